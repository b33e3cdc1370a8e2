import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the base64 HMAC-SHA256 signature of a Zendesk webhook. */
export const ZENDESK_SIGNATURE_HEADER = 'x-zendesk-webhook-signature';
/** Header carrying the timestamp that was signed with the body. */
export const ZENDESK_SIGNATURE_TIMESTAMP_HEADER = 'x-zendesk-webhook-signature-timestamp';
/** Default tolerance between the signed timestamp and our clock. */
export const DEFAULT_SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000;

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;

/** Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + rawBody)). */
export function signZendeskWebhook(secret: string, timestamp: string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(timestamp).update(rawBody).digest('base64');
}

/** The outcome of checking a webhook signature. */
export type SignatureCheck = { ok: true } | { ok: false; code: 'SIGNATURE_INVALID' | 'SIGNATURE_STALE' };

/**
 * Checks a Zendesk webhook: the signature must match the exact raw body bytes (compared in constant time)
 * and the signed timestamp must lie within `toleranceMs` of `now`, so a captured request cannot be replayed.
 */
export function verifyZendeskWebhook(input: {
  secret: string;
  signature: string | undefined;
  timestamp: string | undefined;
  rawBody: string | Buffer;
  toleranceMs?: number;
  now?: number;
}): SignatureCheck {
  const { secret, signature, timestamp, rawBody } = input;
  if (!signature || !timestamp || !secret) return { ok: false, code: 'SIGNATURE_INVALID' };
  const expected = Buffer.from(signZendeskWebhook(secret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature.trim(), 'utf8');
  // timingSafeEqual throws on unequal lengths; the length of a base64 SHA-256 digest is public anyway.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, code: 'SIGNATURE_INVALID' };
  }
  const signedAt = ISO_8601.test(timestamp.trim()) ? Date.parse(timestamp.trim()) : Number.NaN;
  const tolerance = input.toleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS;
  if (!Number.isFinite(signedAt) || Math.abs((input.now ?? Date.now()) - signedAt) > tolerance) {
    return { ok: false, code: 'SIGNATURE_STALE' };
  }
  return { ok: true };
}
