import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Onfleet webhook signatures: `X-Onfleet-Signature` is the hex HMAC-SHA512 of the raw request body.
 * Onfleet hands out webhook secrets as hex and signs with the decoded bytes; a secret that is not hex
 * (such as the sandbox default) is used as its UTF-8 bytes.
 */

/** The HMAC key bytes of a webhook secret. */
export function onfleetSecretKey(secret: string): Buffer {
  return /^(?:[0-9a-fA-F]{2})+$/.test(secret) ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'utf8');
}

/** The X-Onfleet-Signature value for a raw body. */
export function signOnfleetWebhook(secret: string, rawBody: string | Buffer): string {
  const hmac = createHmac('sha512', onfleetSecretKey(secret));
  hmac.update(typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody);
  return hmac.digest('hex');
}

/** True when the signature header matches the raw body; constant-time, and false (not a throw) on any malformed header. */
export function verifyOnfleetWebhook(input: {
  secret: string;
  signature: string | string[] | undefined;
  rawBody: string | Buffer;
}): boolean {
  const header = Array.isArray(input.signature) ? input.signature[0] : input.signature;
  if (typeof header !== 'string') return false;
  const received = header.trim();
  if (!/^[0-9a-fA-F]+$/.test(received) || received.length % 2 !== 0) return false;
  const expected = Buffer.from(signOnfleetWebhook(input.secret, input.rawBody), 'hex');
  const actual = Buffer.from(received, 'hex');
  if (actual.length !== expected.length) return false;
  return timingSafeEqual(actual, expected);
}
