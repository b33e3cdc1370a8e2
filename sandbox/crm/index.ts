export { startCrmSandbox, IDEMPOTENCY_TTL_MS, CASE_TAG, KIND_TAG_PREFIX } from './server.js';
export type { CrmSandbox, CrmSandboxOptions, NoticeRecord } from './server.js';
export {
  RESCHEDULE_EVENT_TYPE,
  PLAN_METADATA_KEY,
  KEY_METADATA_KEY,
  nextWeekdaySlot,
  parsePlanMarker,
  customerAsksForAnotherSlot,
} from './customers.js';
export type { RescheduleRecord } from './customers.js';
