import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { taskQueues } from '../task-queues.js';
import { SHIPMENT_WORKFLOW_TYPE } from './messages.js';

/** Typed keys of the search attributes a shipment sets for the Web UI and `shipsync list`. */
export const SA = {
  ShipmentStatus: defineSearchAttributeKey('ShipmentStatus', SearchAttributeType.KEYWORD),
  Region: defineSearchAttributeKey('Region', SearchAttributeType.KEYWORD),
  DeliveryDate: defineSearchAttributeKey('DeliveryDate', SearchAttributeType.DATETIME),
  CustomerId: defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD),
  OpenException: defineSearchAttributeKey('OpenException', SearchAttributeType.KEYWORD),
  InvoiceReady: defineSearchAttributeKey('InvoiceReady', SearchAttributeType.BOOL),
  OpenExceptions: defineSearchAttributeKey('OpenExceptions', SearchAttributeType.KEYWORD_LIST),
} as const;

/** A visibility query over the shipments on the task queue of `prefix` (a deployment), narrowed by `clauses`. */
export function shipmentsQuery(prefix: string | undefined, ...clauses: string[]): string {
  return [
    `WorkflowType = '${SHIPMENT_WORKFLOW_TYPE}'`,
    `TaskQueue = '${taskQueues(prefix).shipments}'`,
    ...clauses,
  ].join(' AND ');
}
