import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signZendeskWebhook, verifyZendeskWebhook } from '../../../src/integrations/crm/signature.js';

const secret = 'dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==';
const timestamp = '2026-12-01T16:02:11Z';
const rawBody = '{"type":"zen:event-type:ticket.reschedule_requested","id":"e1"}';
const now = Date.parse(timestamp) + 1000;

describe('signZendeskWebhook', () => {
  it('when a body is signed then the signature is base64 HMAC-SHA256 of timestamp + body', () => {
    const expected = createHmac('sha256', secret).update(`${timestamp}${rawBody}`).digest('base64');
    expect(signZendeskWebhook(secret, timestamp, rawBody)).toBe(expected);
    expect(signZendeskWebhook(secret, timestamp, Buffer.from(rawBody))).toBe(expected);
  });
});

describe('verifyZendeskWebhook', () => {
  const signature = signZendeskWebhook(secret, timestamp, rawBody);
  const base = { secret, signature, timestamp, rawBody, toleranceMs: 5 * 60_000, now };

  it('when body, timestamp and secret match then the webhook verifies', () => {
    expect(verifyZendeskWebhook(base)).toEqual({ ok: true });
  });

  it.each([
    ['a tampered body', { rawBody: rawBody.replace('e1', 'e2') }],
    ['one more byte of body', { rawBody: `${rawBody} ` }],
    ['another secret', { secret: 'another-secret-of-some-length' }],
    [
      'a signature from another timestamp',
      { signature: signZendeskWebhook(secret, '2026-12-01T16:02:12Z', rawBody) },
    ],
    ['a truncated signature', { signature: signature.slice(0, 20) }],
    ['a longer signature', { signature: `${signature}AAAA` }],
    [
      'a hex signature',
      {
        signature: createHmac('sha256', secret)
          .update(timestamp + rawBody)
          .digest('hex'),
      },
    ],
    ['no signature', { signature: undefined }],
    ['no timestamp', { timestamp: undefined }],
    ['an empty secret', { secret: '' }],
  ])('when the webhook has %s then it is SIGNATURE_INVALID', (_n, patch) => {
    expect(verifyZendeskWebhook({ ...base, ...patch })).toEqual({ ok: false, code: 'SIGNATURE_INVALID' });
  });

  it.each([
    ['signed 6 minutes ago', Date.parse(timestamp) + 6 * 60_000],
    ['signed 6 minutes in the future', Date.parse(timestamp) - 6 * 60_000],
  ])('when the webhook was %s then it is SIGNATURE_STALE', (_n, at) => {
    expect(verifyZendeskWebhook({ ...base, now: at })).toEqual({ ok: false, code: 'SIGNATURE_STALE' });
  });

  it('when the signed timestamp is not ISO 8601 then it is SIGNATURE_STALE even with a matching signature', () => {
    const ts = '1764604931';
    const sig = signZendeskWebhook(secret, ts, rawBody);
    expect(verifyZendeskWebhook({ ...base, timestamp: ts, signature: sig })).toEqual({
      ok: false,
      code: 'SIGNATURE_STALE',
    });
  });

  it('when the tolerance is wider than the age then an older webhook verifies', () => {
    expect(
      verifyZendeskWebhook({ ...base, now: Date.parse(timestamp) + 6 * 60_000, toleranceMs: 10 * 60_000 }),
    ).toEqual({
      ok: true,
    });
  });
});
