export {
  SapErpAdapter,
  createErpAdapter,
  classifyResponse,
  retryAfterMs,
  ERP_PATHS,
  DEFAULT_PRICE_LIST_TTL_MS,
  type SapErpAdapterOptions,
  type RejectedDelivery,
  type ReleasedPageWithRejects,
} from './adapter.js';
export {
  orderFromDelivery,
  deliveryFromOrder,
  milestoneToOData,
  commitDateToOData,
  billingToOData,
  billingDocumentIdFrom,
  releasedFilter,
  repeatabilityRequestId,
} from './mappers.js';
export {
  CONDITION_TYPES,
  ConditionRecordCache,
  conditionRecordsFilter,
  conditionRowsFrom,
  priceListAt,
  type ConditionRow,
} from './pricing.js';
