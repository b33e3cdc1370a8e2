import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isRetryable, ShipsyncError, type ErrorCode } from '../../../src/domain/errors.js';

/** The expected retry behaviour of every code, written out so a change to the taxonomy is deliberate. */
const expected: Record<ErrorCode, boolean> = {
  VALIDATION_FAILED: false,
  CONFIG_INVALID: false,
  UNAUTHENTICATED: false,
  FORBIDDEN: false,
  SIGNATURE_INVALID: false,
  SIGNATURE_STALE: false,
  PAYLOAD_TOO_LARGE: false,
  UNSUPPORTED_MEDIA_TYPE: false,
  IDEMPOTENCY_KEY_MISSING: false,
  IDEMPOTENCY_KEY_REUSED: false,
  INBOX_BACKLOG_FULL: true,
  SHIPMENT_NOT_FOUND: false,
  EVENT_UNKNOWN_SHIPMENT: false,
  EVENT_SCHEMA_INVALID: false,
  RESCHEDULE_WINDOW_INVALID: false,
  RESCHEDULE_WINDOW_IN_PAST: false,
  RESCHEDULE_NOT_SERVICE_DAY: false,
  RESCHEDULE_TOO_LATE: false,
  ADDRESS_CORRECTION_NOT_EXPECTED: false,
  APPROVAL_NOT_PENDING: false,
  APPROVAL_SAME_PRINCIPAL: false,
  EXCEPTION_NOT_OPEN: false,
  PARKED_NOT_FOUND: false,
  PARKED_IN_PROGRESS: false,
  PARKED_EDIT_INVALID: false,
  POD_NOT_EXPECTED: false,
  CANCEL_NOT_ALLOWED: false,
  RETURN_NOT_ALLOWED: false,
  TASK_NOT_UNDER_WAY: false,
  ADDRESS_NOT_FOUND: false,
  CHARGES_INVALID: false,
  ERP_DELIVERY_NOT_FOUND: false,
  ERP_BUSINESS_REJECTED: false,
  ERP_PRECONDITION_REQUIRED: false,
  ERP_PRECONDITION_FAILED: true,
  ERP_CSRF_REJECTED: true,
  ERP_PRICING_INCOMPLETE: false,
  ERP_RATE_LIMITED: true,
  ERP_UNAVAILABLE: true,
  DISPATCH_TASK_NOT_FOUND: false,
  DISPATCH_REJECTED: false,
  DISPATCH_TASK_COMPLETED: false,
  DISPATCH_RATE_LIMITED: true,
  DISPATCH_UNAVAILABLE: true,
  CRM_TICKET_NOT_FOUND: false,
  CRM_REJECTED: false,
  CRM_IDEMPOTENCY_CONFLICT: false,
  CRM_RATE_LIMITED: true,
  CRM_UNAVAILABLE: true,
  TEMPORAL_UNAVAILABLE: true,
  UPDATE_FAILED: true,
  ROUTE_NOT_FOUND: false,
  DEAD_LETTER_NOT_FOUND: false,
  RECONCILIATION_REPORT_NOT_FOUND: false,
  DEAD_LETTER_NOT_OPEN: false,
  STORE_UNAVAILABLE: true,
  INTERNAL_ERROR: true,
};

describe('error taxonomy', () => {
  it('when the taxonomy changes then this table changes with it', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s is retryable=%s', (code, retryable) => {
    expect(isRetryable(code as ErrorCode)).toBe(retryable);
    expect(new ShipsyncError(code as ErrorCode, 'x').retryable).toBe(retryable);
  });

  it.each(Object.entries(ERROR_CODES))('%s maps to an HTTP status', (_code, info) => {
    expect(info.http).toBeGreaterThanOrEqual(400);
    expect(info.meaning.length).toBeGreaterThan(5);
  });
});
