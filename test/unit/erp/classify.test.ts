import type { AxiosResponse } from 'axios';
import { describe, expect, it } from 'vitest';
import { classifyResponse, retryAfterMs } from '../../../src/integrations/erp/adapter.js';

function response(
  status: number,
  headers: Record<string, string> = {},
  data: unknown = undefined,
): AxiosResponse {
  return { status, headers, data, statusText: '', config: {} as AxiosResponse['config'] };
}

const odataError = (target: string) => ({
  error: {
    code: 'VL/302',
    message: { lang: 'en', value: 'Delivery 1 does not exist' },
    innererror: { errordetails: [{ target }] },
  },
});

describe('classifyResponse', () => {
  const cases: {
    status: number;
    headers?: Record<string, string>;
    data?: unknown;
    code: string;
    retryable: boolean;
  }[] = [
    { status: 404, code: 'ERP_DELIVERY_NOT_FOUND', retryable: false },
    { status: 400, data: odataError('ReferenceDocument'), code: 'ERP_BUSINESS_REJECTED', retryable: false },
    { status: 422, code: 'ERP_BUSINESS_REJECTED', retryable: false },
    { status: 428, code: 'ERP_PRECONDITION_REQUIRED', retryable: false },
    { status: 412, code: 'ERP_PRECONDITION_FAILED', retryable: true },
    { status: 403, headers: { 'x-csrf-token': 'Required' }, code: 'ERP_CSRF_REJECTED', retryable: true },
    { status: 403, code: 'ERP_BUSINESS_REJECTED', retryable: false },
    { status: 429, headers: { 'retry-after': '7' }, code: 'ERP_RATE_LIMITED', retryable: true },
    { status: 500, code: 'ERP_UNAVAILABLE', retryable: true },
    { status: 503, headers: { 'retry-after': '2' }, code: 'ERP_UNAVAILABLE', retryable: true },
  ];
  for (const c of cases) {
    it(`when the ERP answers ${c.status}${c.headers ? ` with ${JSON.stringify(c.headers)}` : ''} then the code is ${c.code}`, () => {
      const err = classifyResponse(response(c.status, c.headers, c.data), 'test');
      expect([err.code, err.retryable, err.details.status]).toEqual([c.code, c.retryable, c.status]);
    });
  }
  it('when a business error names a field then the error carries it and the SAP message', () => {
    const err = classifyResponse(response(400, {}, odataError('ReferenceDocument')), 'post billing');
    expect(err.details.field).toBe('ReferenceDocument');
    expect(err.message).toContain('Delivery 1 does not exist');
  });
  it('when 429 carries Retry-After seconds then retryAfterMs is that many milliseconds', () => {
    expect(classifyResponse(response(429, { 'retry-after': '7' }), 'x').details.retryAfterMs).toBe(7000);
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 11, 1, 12, 0, 0);
  const cases: { header: unknown; ms: number }[] = [
    { header: '3', ms: 3000 },
    { header: ' 0 ', ms: 0 },
    { header: new Date(now + 4500).toUTCString(), ms: 4000 },
    { header: new Date(now - 10_000).toUTCString(), ms: 0 },
    { header: undefined, ms: 1000 },
    { header: 'soon', ms: 1000 },
  ];
  for (const c of cases) {
    it(`when Retry-After is ${JSON.stringify(c.header)} then the wait is ${c.ms} ms`, () => {
      expect(retryAfterMs(c.header, now)).toBe(c.ms);
    });
  }
});
