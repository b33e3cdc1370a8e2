/** Every stable error code, with whether a retry can succeed and the HTTP status it maps to at our API. */
export const ERROR_CODES = {
  VALIDATION_FAILED: { retryable: false, http: 400, meaning: 'input does not match its schema' },
  CONFIG_INVALID: { retryable: false, http: 500, meaning: 'a configuration key holds an invalid value' },
  UNAUTHENTICATED: { retryable: false, http: 401, meaning: 'missing or unknown bearer token' },
  FORBIDDEN: { retryable: false, http: 403, meaning: 'the caller role may not use this route' },
  SIGNATURE_INVALID: { retryable: false, http: 401, meaning: 'webhook signature does not match the body' },
  SIGNATURE_STALE: { retryable: false, http: 401, meaning: 'webhook timestamp outside the tolerance window' },
  PAYLOAD_TOO_LARGE: { retryable: false, http: 413, meaning: 'request body over the size limit' },
  UNSUPPORTED_MEDIA_TYPE: { retryable: false, http: 415, meaning: 'content type is not JSON' },
  IDEMPOTENCY_KEY_MISSING: { retryable: false, http: 400, meaning: 'a POST needs an Idempotency-Key header' },
  IDEMPOTENCY_KEY_REUSED: {
    retryable: false,
    http: 422,
    meaning: 'an Idempotency-Key was reused with another body',
  },
  INBOX_BACKLOG_FULL: {
    retryable: true,
    http: 429,
    meaning: 'the inbox backlog passed its limit; retry later',
  },
  SHIPMENT_NOT_FOUND: { retryable: false, http: 404, meaning: 'no shipment workflow with that id' },
  EVENT_UNKNOWN_SHIPMENT: {
    retryable: false,
    http: 404,
    meaning: 'an event names a shipment that does not exist',
  },
  EVENT_SCHEMA_INVALID: {
    retryable: false,
    http: 400,
    meaning: 'an event does not match its versioned schema',
  },
  RESCHEDULE_WINDOW_INVALID: {
    retryable: false,
    http: 422,
    meaning: 'the requested window is malformed or empty',
  },
  RESCHEDULE_WINDOW_IN_PAST: {
    retryable: false,
    http: 422,
    meaning: 'the requested window starts in the past',
  },
  RESCHEDULE_NOT_SERVICE_DAY: {
    retryable: false,
    http: 422,
    meaning: 'the customer does not accept deliveries that day',
  },
  RESCHEDULE_TOO_LATE: { retryable: false, http: 409, meaning: 'the shipment is out for delivery or later' },
  ADDRESS_CORRECTION_NOT_EXPECTED: {
    retryable: false,
    http: 409,
    meaning: 'the shipment is not waiting for an address',
  },
  APPROVAL_NOT_PENDING: { retryable: false, http: 409, meaning: 'no charges are waiting for approval' },
  APPROVAL_SAME_PRINCIPAL: {
    retryable: false,
    http: 409,
    meaning: 'four-eyes: the second approval must come from another finance principal than the first',
  },
  EXCEPTION_NOT_OPEN: { retryable: false, http: 409, meaning: 'no open exception of that kind' },
  PARKED_NOT_FOUND: {
    retryable: false,
    http: 409,
    meaning: 'the shipment holds no such parked side effect (resolved already, or never parked)',
  },
  PARKED_IN_PROGRESS: {
    retryable: false,
    http: 409,
    meaning: 'the parked side effect is being sent again right now',
  },
  PARKED_EDIT_INVALID: {
    retryable: false,
    http: 422,
    meaning: 'the edits name fields this kind of side effect does not let an operator change',
  },
  POD_NOT_EXPECTED: {
    retryable: false,
    http: 409,
    meaning: 'the shipment has no attempt waiting for a proof of delivery',
  },
  CANCEL_NOT_ALLOWED: {
    retryable: false,
    http: 409,
    meaning:
      'the shipment has an outcome already (delivered, returned, billing or closed) and cannot be cancelled',
  },
  RETURN_NOT_ALLOWED: {
    retryable: false,
    http: 409,
    meaning: 'the goods cannot be sent back now (no attempt under way, or the shipment has an outcome)',
  },
  TASK_NOT_UNDER_WAY: {
    retryable: false,
    http: 409,
    meaning:
      'the shipment has no dispatch task under way to complete by hand (not published yet, or its attempt has an outcome)',
  },
  ADDRESS_NOT_FOUND: { retryable: false, http: 422, meaning: 'the address could not be located' },
  CHARGES_INVALID: { retryable: false, http: 422, meaning: 'computed charges failed validation' },
  ERP_DELIVERY_NOT_FOUND: { retryable: false, http: 404, meaning: 'the ERP has no such outbound delivery' },
  ERP_BUSINESS_REJECTED: {
    retryable: false,
    http: 422,
    meaning: 'the ERP rejected the request as a business error',
  },
  ERP_PRECONDITION_REQUIRED: {
    retryable: false,
    http: 500,
    meaning: 'a write was sent without If-Match: a bug',
  },
  ERP_PRECONDITION_FAILED: { retryable: true, http: 503, meaning: 'the ETag was stale; refetch and retry' },
  ERP_CSRF_REJECTED: { retryable: true, http: 503, meaning: 'the CSRF token expired; fetch a new one' },
  ERP_RATE_LIMITED: { retryable: true, http: 503, meaning: 'the ERP asked us to slow down' },
  ERP_UNAVAILABLE: { retryable: true, http: 503, meaning: 'the ERP answered 5xx or timed out' },
  ERP_PRICING_INCOMPLETE: {
    retryable: false,
    http: 422,
    meaning: 'the ERP holds no valid condition record for a condition type shipsync prices charges with',
  },
  DISPATCH_TASK_NOT_FOUND: { retryable: false, http: 404, meaning: 'dispatch has no such task' },
  DISPATCH_REJECTED: { retryable: false, http: 422, meaning: 'dispatch rejected the request as invalid' },
  DISPATCH_TASK_COMPLETED: { retryable: false, http: 409, meaning: 'the dispatch task is already completed' },
  DISPATCH_RATE_LIMITED: { retryable: true, http: 503, meaning: 'dispatch answered 429' },
  DISPATCH_UNAVAILABLE: { retryable: true, http: 503, meaning: 'dispatch answered 5xx or timed out' },
  CRM_TICKET_NOT_FOUND: { retryable: false, http: 404, meaning: 'the CRM has no such ticket' },
  CRM_REJECTED: { retryable: false, http: 422, meaning: 'the CRM rejected the request as invalid' },
  CRM_IDEMPOTENCY_CONFLICT: {
    retryable: false,
    http: 422,
    meaning: 'an idempotency key was reused with another body',
  },
  CRM_RATE_LIMITED: { retryable: true, http: 503, meaning: 'the CRM answered 429' },
  CRM_UNAVAILABLE: { retryable: true, http: 503, meaning: 'the CRM answered 5xx or timed out' },
  TEMPORAL_UNAVAILABLE: { retryable: true, http: 503, meaning: 'the Temporal frontend could not be reached' },
  UPDATE_FAILED: {
    retryable: true,
    http: 503,
    meaning:
      'the shipment could not carry out the request for a reason that is not a business one; retry later',
  },
  ROUTE_NOT_FOUND: { retryable: false, http: 404, meaning: 'no such route or method' },
  DEAD_LETTER_NOT_FOUND: { retryable: false, http: 404, meaning: 'no dead letter with that id' },
  RECONCILIATION_REPORT_NOT_FOUND: {
    retryable: false,
    http: 404,
    meaning: 'no reconciliation report with that id',
  },
  DEAD_LETTER_NOT_OPEN: {
    retryable: false,
    http: 409,
    meaning: 'the dead letter was already replayed or discarded',
  },
  STORE_UNAVAILABLE: { retryable: true, http: 503, meaning: 'the inbox database could not be reached' },
  INTERNAL_ERROR: { retryable: true, http: 500, meaning: 'an unexpected failure; see the log' },
} as const satisfies Record<string, { retryable: boolean; http: number; meaning: string }>;

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when an operation that failed with this code may succeed if tried again. */
export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

/** shipsync's one error type: a stable code, a message, and optionally the offending field. */
export class ShipsyncError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: { field?: string; retryAfterMs?: number; status?: number; body?: unknown } = {},
  ) {
    super(message);
    this.name = 'ShipsyncError';
    this.retryable = ERROR_CODES[code].retryable;
  }
}

/** Dot-separated path of the first issue of a zod error, e.g. `address.postalCode`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}
