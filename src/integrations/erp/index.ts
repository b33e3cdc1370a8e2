export {
  SapErpAdapter,
  createErpAdapter,
  classifyResponse,
  retryAfterMs,
  ERP_PATHS,
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
