export { ZendeskCrmAdapter, createCrmAdapter } from './adapter.js';
export type { CrmAdapterOptions } from './adapter.js';
export { classifyZendeskFailure, classifyZendeskResponse, retryAfterMs } from './errors.js';
export {
  DEFAULT_FIELD_IDS,
  ZENDESK_RESCHEDULE_EVENT_TYPE,
  CRM_EVENT_SOURCE,
  formatPlanMarker,
  extractPlanMarker,
  rescheduleWebhookToEvent,
  ticketToCase,
} from './mappers.js';
export type { AnnouncedPlan, NotifyCustomerInput, ZendeskFieldIds } from './mappers.js';
export {
  ZENDESK_SIGNATURE_HEADER,
  ZENDESK_SIGNATURE_TIMESTAMP_HEADER,
  DEFAULT_SIGNATURE_TOLERANCE_MS,
  signZendeskWebhook,
  verifyZendeskWebhook,
} from './signature.js';
export type { SignatureCheck } from './signature.js';
