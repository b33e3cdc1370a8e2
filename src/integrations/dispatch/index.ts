export {
  OnfleetDispatchAdapter,
  createDispatchAdapter,
  classifyOnfleetError,
  REGION_TIMEZONES,
} from './adapter.js';
export type { DispatchAdapterOptions } from './adapter.js';
export {
  jobToOnfleetTask,
  destinationToOnfleet,
  addressToOnfleet,
  toE164,
  toLngLat,
  onfleetWebhookToCanonical,
  onfleetEventId,
  failureReasonFromOnfleet,
  FAILURE_REASON_TO_ONFLEET,
  OnfleetWebhookPayload,
} from './mappers.js';
export type {
  OnfleetTaskBody,
  OnfleetWebhookResult,
  WebhookMappingOptions,
  OnfleetMetadataEntry,
} from './mappers.js';
export { signOnfleetWebhook, verifyOnfleetWebhook, onfleetSecretKey } from './signature.js';
