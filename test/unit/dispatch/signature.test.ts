import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  onfleetSecretKey,
  signOnfleetWebhook,
  verifyOnfleetWebhook,
} from '../../../src/integrations/dispatch/signature.js';

const HEX_SECRET = '8f1a4c2e9b7d3f6a0c5e8b1d4f7a2c9e';
const BODY = '{"triggerName":"taskCompleted","taskId":"t1","time":1796140800000}';

describe('Onfleet webhook signature', () => {
  it("when the secret is hex then the HMAC key is its decoded bytes, as in Onfleet's examples", () => {
    const expected = createHmac('sha512', Buffer.from(HEX_SECRET, 'hex')).update(BODY).digest('hex');
    expect(signOnfleetWebhook(HEX_SECRET, BODY)).toBe(expected);
    expect(onfleetSecretKey(HEX_SECRET)).toHaveLength(16);
  });

  it('when the secret is not hex then its UTF-8 bytes are the key', () => {
    const secret = 'sandbox-dispatch-webhook-secret';
    expect(signOnfleetWebhook(secret, BODY)).toBe(createHmac('sha512', secret).update(BODY).digest('hex'));
  });

  it('when body and signature match then verification passes, for a string or a Buffer body and any hex case', () => {
    const signature = signOnfleetWebhook(HEX_SECRET, BODY);
    expect(verifyOnfleetWebhook({ secret: HEX_SECRET, signature, rawBody: BODY })).toBe(true);
    expect(
      verifyOnfleetWebhook({
        secret: HEX_SECRET,
        signature: signature.toUpperCase(),
        rawBody: Buffer.from(BODY),
      }),
    ).toBe(true);
    expect(verifyOnfleetWebhook({ secret: HEX_SECRET, signature: [signature], rawBody: BODY })).toBe(true);
  });

  it.each<[string, string | string[] | undefined, string]>([
    ['the body was changed', 'valid', BODY.replace('t1', 't2')],
    ['the header is missing', undefined, BODY],
    ['the header is empty', '', BODY],
    ['the header is not hex', 'zz'.repeat(64), BODY],
    ['the header is truncated', 'short', BODY],
    ['the header has an odd length', 'abc', BODY],
    ['the header is an empty list', [], BODY],
  ])('when %s then verification fails without throwing', (_label, header, body) => {
    const signature =
      header === 'valid'
        ? signOnfleetWebhook(HEX_SECRET, BODY)
        : header === 'short'
          ? signOnfleetWebhook(HEX_SECRET, BODY).slice(0, 64)
          : header;
    expect(verifyOnfleetWebhook({ secret: HEX_SECRET, signature, rawBody: body })).toBe(false);
  });

  it('when another secret signed the body then verification fails', () => {
    const signature = signOnfleetWebhook('0123456789abcdef0123456789abcdef', BODY);
    expect(verifyOnfleetWebhook({ secret: HEX_SECRET, signature, rawBody: BODY })).toBe(false);
  });
});
