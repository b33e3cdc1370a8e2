import { AxiosError, AxiosHeaders } from 'axios';
import { describe, expect, it } from 'vitest';
import { ShipsyncError, type ErrorCode } from '../../../src/domain/errors.js';
import {
  classifyZendeskFailure,
  classifyZendeskJobResult,
  classifyZendeskResponse,
  retryAfterMs,
} from '../../../src/integrations/crm/errors.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('classifyZendeskResponse', () => {
  it.each<[string, number, Record<string, unknown>, unknown, ErrorCode, Record<string, unknown>]>([
    [
      'record not found',
      404,
      {},
      { error: 'RecordNotFound', description: 'Not found' },
      'CRM_TICKET_NOT_FOUND',
      {},
    ],
    [
      'unknown endpoint',
      404,
      {},
      { error: 'InvalidEndpoint', description: 'Not found' },
      'CRM_TICKET_NOT_FOUND',
      {},
    ],
    [
      'record invalid',
      422,
      {},
      {
        error: 'RecordInvalid',
        description: 'Record validation errors',
        details: { status: [{ description: 'Status: closed prevents ticket update' }] },
      },
      'CRM_REJECTED',
      { field: 'status' },
    ],
    [
      'record invalid on base',
      422,
      {},
      { error: 'RecordInvalid', details: { base: [{ description: 'x' }] } },
      'CRM_REJECTED',
      { field: 'base' },
    ],
    ['bad request', 400, {}, { error: 'InvalidValue', description: 'bad' }, 'CRM_REJECTED', {}],
    [
      'idempotency key reuse (Zendesk answers 400)',
      400,
      {},
      {
        error: 'IdempotentRequestError',
        description: "Request parameters don't match the given idempotency key",
      },
      'CRM_IDEMPOTENCY_CONFLICT',
      {},
    ],
    [
      'idempotency key reuse answered 422',
      422,
      {},
      { error: 'IdempotentRequestError' },
      'CRM_IDEMPOTENCY_CONFLICT',
      {},
    ],
    ['unauthenticated', 401, {}, { error: "Couldn't authenticate you" }, 'CRM_REJECTED', {}],
    [
      'rate limited',
      429,
      { 'retry-after': '17' },
      { error: 'APIRateLimitExceeded' },
      'CRM_RATE_LIMITED',
      { retryAfterMs: 17_000 },
    ],
    ['rate limited, no header', 429, {}, 'Too Many Requests', 'CRM_RATE_LIMITED', { retryAfterMs: 60_000 }],
    [
      'rate limited until a date',
      429,
      { 'retry-after': 'Tue, 01 Dec 2026 12:00:30 GMT' },
      null,
      'CRM_RATE_LIMITED',
      { retryAfterMs: 30_000 },
    ],
    [
      'unavailable',
      503,
      { 'retry-after': '1' },
      { error: 'ServiceUnavailable' },
      'CRM_UNAVAILABLE',
      { retryAfterMs: 1000 },
    ],
    ['internal error', 500, {}, '<html>oops</html>', 'CRM_UNAVAILABLE', {}],
    ['update conflict', 409, {}, { error: 'UpdateConflict' }, 'CRM_UNAVAILABLE', {}],
  ])(
    'when Zendesk answers %s (%i) then the error is classified',
    (_n, status, headers, body, code, details) => {
      const err = classifyZendeskResponse(status, headers, body, 'test', NOW);
      expect(err.code).toBe(code);
      expect(err.details).toMatchObject({ status, ...details });
      expect(err.message).toMatch(/^test: /);
    },
  );
});

describe('classifyZendeskFailure', () => {
  it.each(['ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'ECONNRESET'])(
    'when the call fails with %s and no answer then it is CRM_UNAVAILABLE',
    (code) => {
      const err = classifyZendeskFailure(new AxiosError('failed', code), 'test');
      expect(err).toBeInstanceOf(ShipsyncError);
      expect((err as ShipsyncError).code).toBe('CRM_UNAVAILABLE');
      expect((err as ShipsyncError).retryable).toBe(true);
    },
  );

  it('when the call has an answer then the answer is classified', () => {
    const response = {
      status: 404,
      statusText: 'Not Found',
      headers: new AxiosHeaders(),
      config: { headers: new AxiosHeaders() },
      data: { error: 'RecordNotFound' },
    };
    const err = classifyZendeskFailure(
      new AxiosError('nf', 'ERR_BAD_REQUEST', undefined, undefined, response),
      't',
    );
    expect((err as ShipsyncError).code).toBe('CRM_TICKET_NOT_FOUND');
  });

  it('when the failure is not an HTTP failure then it passes through unchanged', () => {
    const bug = new TypeError('bug');
    expect(classifyZendeskFailure(bug, 't')).toBe(bug);
  });
});

describe('retryAfterMs', () => {
  it.each([
    ['5', 5000],
    ['0', 0],
    ['1.5', 1500],
    [['7'], 7000],
    ['Tue, 01 Dec 2026 12:01:00 GMT', 60_000],
    ['Tue, 01 Dec 2026 11:00:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
    ['', undefined],
  ])('when Retry-After is %j then the wait is %s ms', (header, ms) => {
    expect(retryAfterMs(header, NOW)).toBe(ms);
  });
});

describe('classifyZendeskJobResult', () => {
  it.each<[string, Record<string, unknown>, ErrorCode, string | undefined]>([
    [
      'an unknown ticket',
      { id: 9, error: 'RecordNotFound', details: 'Ticket not found' },
      'CRM_TICKET_NOT_FOUND',
      undefined,
    ],
    [
      'a closed ticket',
      { id: 9, error: 'RecordInvalid', details: 'Status: closed prevents ticket update' },
      'CRM_REJECTED',
      'status',
    ],
    [
      'a create without a comment',
      { index: 1, error: 'RecordInvalid', details: 'Description: cannot be blank' },
      'CRM_REJECTED',
      'description',
    ],
    [
      'a field of several words',
      { id: 9, error: 'TicketUpdateFailed', details: 'Follow Up Date: needed' },
      'CRM_REJECTED',
      'follow_up_date',
    ],
    [
      'details as Zendesk field problems',
      { error: 'RecordInvalid', details: { priority: [{ description: 'Priority: is invalid' }] } },
      'CRM_REJECTED',
      'priority',
    ],
    ['an error without details', { error: 'Failed' }, 'CRM_REJECTED', undefined],
  ])(
    'when a job item failed with %s then it is classified as a single call would be',
    (_what, result, code, field) => {
      const err = classifyZendeskJobResult(result, 'close case 9');
      expect(err).toBeInstanceOf(ShipsyncError);
      expect(err.code).toBe(code);
      expect(err.retryable).toBe(false);
      expect(err.details.field).toBe(field);
      expect(err.message).toMatch(/^close case 9: /);
    },
  );
});
