import { createHash } from 'node:crypto';
import type { Store } from '../storage/store.js';
import { GatewayError } from './errors.js';

/**
 * Idempotency-Key handling after draft-ietf-httpapi-idempotency-key-header: the first response to a key is
 * stored with a fingerprint of the request; the same key with the same request gets that response again,
 * the same key with another request gets 422, and a POST without a key gets 400.
 */

/** The key of an `Idempotency-Key` header; accepts the draft's quoted sf-string form and a bare token. */
export function parseIdempotencyKey(header: string | string[] | undefined): string {
  const raw = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!raw)
    throw new GatewayError(
      'IDEMPOTENCY_KEY_MISSING',
      'send an Idempotency-Key header with a unique value per request',
      { field: 'idempotency-key' },
    );
  const unquoted = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
  if (!/^[\x21-\x7e]{1,255}$/.test(unquoted) || unquoted.includes('"')) {
    throw new GatewayError(
      'VALIDATION_FAILED',
      'Idempotency-Key must be 1 to 255 printable ASCII characters',
      { field: 'idempotency-key' },
    );
  }
  return unquoted;
}

/** JSON with object keys sorted, so equal requests have equal fingerprints whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Fingerprint of a request body. */
export function bodyHash(body: unknown): string {
  return createHash('sha256')
    .update(canonicalJson(body ?? null))
    .digest('hex');
}

/** A response to send: status and body. */
export interface ApiResponse {
  status: number;
  body: unknown;
}

/**
 * Answers a POST under its Idempotency-Key: a stored response when the key was seen with this request,
 * 422 when it was seen with another, else runs `execute` and stores its response unless it is a 5xx (a
 * failure the caller should be able to retry). `execute` receives the key so it can pass it on (as the
 * Temporal update id), which makes concurrent requests with one key have one effect.
 */
export async function respondIdempotently(
  store: Store,
  opts: { key: string; route: string; body: unknown; now: Date },
  execute: (key: string) => Promise<ApiResponse>,
): Promise<ApiResponse & { replayed: boolean }> {
  const fingerprint = bodyHash(opts.body);
  const check = (stored: { route: string; bodyHash: string; statusCode: number; response: unknown }) => {
    if (stored.route !== opts.route || stored.bodyHash !== fingerprint) {
      throw new GatewayError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with another request', {
        field: 'idempotency-key',
      });
    }
    return { status: stored.statusCode, body: stored.response, replayed: true };
  };
  const seen = await store.idempotency.get(opts.key);
  if (seen) return check(seen);
  const res = await execute(opts.key);
  if (res.status >= 500) return { ...res, replayed: false };
  const record = {
    key: opts.key,
    route: opts.route,
    bodyHash: fingerprint,
    statusCode: res.status,
    response: res.body,
    createdAt: opts.now.toISOString(),
  };
  const stored = await store.idempotency.put(record);
  // A concurrent request with the same key stored first: answer as it did (or 422 if it was another request).
  if (stored !== record) return check(stored);
  return { ...res, replayed: false };
}
