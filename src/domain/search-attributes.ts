/** Search attributes the workflows set, by name and Temporal type; registered on every server we start. */
export const SEARCH_ATTRIBUTES = {
  ShipmentStatus: 'Keyword',
  Region: 'Keyword',
  DeliveryDate: 'Datetime',
  CustomerId: 'Keyword',
  OpenException: 'Keyword',
  InvoiceReady: 'Bool',
  /** Every open exception kind (runs with the search-attributes-follow-state patch). */
  OpenExceptions: 'KeywordList',
} as const;

/** Name of one of shipsync's search attributes. */
export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;
