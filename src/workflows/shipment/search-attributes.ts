import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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
