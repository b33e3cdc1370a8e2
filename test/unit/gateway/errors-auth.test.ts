import { describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import { ANY_PRINCIPAL, bearerToken, Principals, secretsEqual } from '../../../src/gateway/auth.js';
import { tokenHash } from '../../../src/platform/config.js';
import { GatewayError, httpStatusOf, isKnownCode, toErrorResponse } from '../../../src/gateway/errors.js';
import { bodyHash, canonicalJson, parseIdempotencyKey } from '../../../src/gateway/idempotency.js';

describe('error responses', () => {
  it.each([
    [{ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [{ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 413, 'PAYLOAD_TOO_LARGE'],
    [{ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 }, 400, 'VALIDATION_FAILED'],
    [{ code: 'FST_ERR_SOMETHING_NEW', statusCode: 405 }, 400, 'VALIDATION_FAILED'],
    [new Error('boom'), 500, 'INTERNAL_ERROR'],
  ])('when the error is %o then the answer is %i %s', (err, status, code) => {
    const r = toErrorResponse(err);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
  });

  it('when a schema check fails then the answer names the field with its request part', () => {
    const body = toErrorResponse({
      validation: [{ instancePath: '/window/end', message: 'window end must be after its start' }],
      validationContext: 'body',
    });
    expect(body).toEqual({
      status: 400,
      body: {
        code: 'VALIDATION_FAILED',
        message: 'window.end: window end must be after its start',
        field: 'window.end',
      },
    });
    const query = toErrorResponse({
      validation: [{ instancePath: '/region', message: 'expected a region code' }],
      validationContext: 'querystring',
    });
    expect(query.body.field).toBe('querystring.region');
  });

  it('when a domain or gateway error is raised then its code decides the status and the field and event id are kept', () => {
    expect(
      toErrorResponse(new ShipsyncError('RESCHEDULE_TOO_LATE', 'out for delivery', { field: 'window' })),
    ).toEqual({
      status: 409,
      body: { code: 'RESCHEDULE_TOO_LATE', message: 'out for delivery', field: 'window' },
    });
    const backlog = toErrorResponse(
      new GatewayError('INBOX_BACKLOG_FULL', 'full', { eventId: 'e1', retryAfterSeconds: 30 }),
    );
    expect(backlog).toEqual({
      status: 429,
      body: { code: 'INBOX_BACKLOG_FULL', message: 'full', eventId: 'e1' },
      retryAfterSeconds: 30,
    });
    expect(httpStatusOf('DEAD_LETTER_NOT_OPEN')).toBe(409);
    expect(isKnownCode('SIGNATURE_STALE')).toBe(true);
    expect(isKnownCode('NOT_A_CODE')).toBe(false);
  });
});

describe('bearer tokens and principals', () => {
  const tokens = new Principals([
    { id: 'ana', kind: 'person', roles: ['agent'], tokenSha256: [tokenHash('tok-agent')] },
    {
      id: 'ops',
      kind: 'person',
      roles: ['admin'],
      tokenSha256: [tokenHash('tok-admin'), tokenHash('tok-admin-2')],
    },
    { id: 'scraper', kind: 'service', roles: [], tokenSha256: [tokenHash('tok-scraper')] },
  ]);

  it.each([
    ['Bearer tok-agent', 'tok-agent'],
    ['bearer   tok-agent ', 'tok-agent'],
    ['Basic dG9rLWFnZW50', undefined],
    ['Bearer', undefined],
    ['Bearer two words', undefined],
    [undefined, undefined],
  ])('when the header is %s then the token is %s', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it('when a token is known then its principal is found (any of its tokens), and an unknown or prefix token has none', () => {
    expect(tokens.resolve('tok-agent')).toMatchObject({ id: 'ana', roles: ['agent'] });
    expect(tokens.resolve('tok-admin')).toMatchObject({ id: 'ops', kind: 'person' });
    expect(tokens.resolve('tok-admin-2')?.id).toBe('ops');
    expect(tokens.resolve('tok-')).toBeUndefined();
    expect(tokens.resolve(undefined)).toBeUndefined();
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
  });

  it('when a route needs a role then missing, unknown and other roles are refused with 401 or 403', async () => {
    const hook = tokens.require(['admin']);
    const call = (authorization?: string) =>
      hook({ headers: authorization ? { authorization } : {} } as never);
    await expect(call()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    await expect(call('Bearer nope')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(call('Bearer tok-agent')).rejects.toMatchObject({ code: 'FORBIDDEN', status: 403 });
    await expect(call('Bearer tok-admin')).resolves.toBeUndefined();
  });

  it('when a route takes any principal then a principal without roles passes and an unknown token does not', async () => {
    const hook = tokens.require(ANY_PRINCIPAL);
    const req = (authorization: string) => ({ headers: { authorization } }) as never;
    await expect(hook(req('Bearer tok-scraper'))).resolves.toBeUndefined();
    await expect(hook(req('Bearer nope'))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('idempotency keys', () => {
  it.each([
    ['"8e03978e-40d5-43e8-bc93-6894a57f9324"', '8e03978e-40d5-43e8-bc93-6894a57f9324'],
    ['plain-key-1', 'plain-key-1'],
  ])('when the header is %s then the key is %s', (header, key) => {
    expect(parseIdempotencyKey(header)).toBe(key);
  });

  it('when the header is missing, empty, too long or not printable then it is refused with its own code', () => {
    expect(() => parseIdempotencyKey(undefined)).toThrow(
      expect.objectContaining({ code: 'IDEMPOTENCY_KEY_MISSING' }),
    );
    expect(() => parseIdempotencyKey('  ')).toThrow(
      expect.objectContaining({ code: 'IDEMPOTENCY_KEY_MISSING' }),
    );
    expect(() => parseIdempotencyKey('x'.repeat(256))).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
    expect(() => parseIdempotencyKey('has space')).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('when two bodies differ only in key order then their fingerprints are equal, and otherwise they differ', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(bodyHash({ a: 1, b: 2 })).toBe(bodyHash({ b: 2, a: 1 }));
    expect(bodyHash({ a: 1, b: 2 })).not.toBe(bodyHash({ a: 1, b: 3 }));
    expect(bodyHash(undefined)).toBe(bodyHash(null));
  });
});
