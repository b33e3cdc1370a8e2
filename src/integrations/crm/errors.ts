import { isAxiosError } from 'axios';
import { ShipsyncError } from '../../domain/errors.js';

/** Wait assumed when a 429 comes without Retry-After: Zendesk meters per minute. */
export const DEFAULT_RETRY_AFTER_MS = 60_000;

/** Milliseconds a Retry-After header asks for (delta seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: unknown, now = Date.now()): number | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return Math.round(raw * 1000);
  if (typeof raw !== 'string' || !raw.trim()) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw.trim())) return Math.round(Number(raw.trim()) * 1000);
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function errorName(body: unknown): string | undefined {
  const e = (body as { error?: unknown } | null | undefined)?.error;
  if (typeof e === 'string') return e;
  // Some Zendesk endpoints nest the error: {"error": {"title": ..., "message": ...}}.
  const title = (e as { title?: unknown } | null | undefined)?.title;
  return typeof title === 'string' ? title : undefined;
}

function description(body: unknown): string | undefined {
  const d = (body as { description?: unknown } | null | undefined)?.description;
  return typeof d === 'string' ? d : undefined;
}

/** The first field a Zendesk `RecordInvalid` names, other than the catch-all `base`. */
function offendingField(body: unknown): string | undefined {
  const details = (body as { details?: unknown } | null | undefined)?.details;
  if (typeof details !== 'object' || details === null) return undefined;
  return Object.keys(details).find((k) => k !== 'base') ?? (Object.keys(details)[0] || undefined);
}

/** Classifies a Zendesk error answer into shipsync's taxonomy. */
export function classifyZendeskResponse(
  status: number,
  headers: Record<string, unknown>,
  body: unknown,
  context: string,
  now = Date.now(),
): ShipsyncError {
  const name = errorName(body);
  const text = [name, description(body)].filter(Boolean).join(': ') || `HTTP ${status}`;
  const base = { status, body };
  if (status === 429) {
    return new ShipsyncError('CRM_RATE_LIMITED', `${context}: Zendesk rate limit reached (${text})`, {
      ...base,
      retryAfterMs: retryAfterMs(headers['retry-after'], now) ?? DEFAULT_RETRY_AFTER_MS,
    });
  }
  if (status >= 500 || status === 409) {
    // 409 is Zendesk's concurrent-update conflict: the same request succeeds when tried again.
    const wait = retryAfterMs(headers['retry-after'], now);
    return new ShipsyncError('CRM_UNAVAILABLE', `${context}: Zendesk answered ${status} (${text})`, {
      ...base,
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    });
  }
  if (status === 404) {
    return new ShipsyncError(
      'CRM_TICKET_NOT_FOUND',
      `${context}: Zendesk has no such record (${text})`,
      base,
    );
  }
  if (name === 'IdempotentRequestError') {
    return new ShipsyncError(
      'CRM_IDEMPOTENCY_CONFLICT',
      `${context}: the idempotency key was already used with another request (${text})`,
      base,
    );
  }
  const field = offendingField(body);
  return new ShipsyncError('CRM_REJECTED', `${context}: Zendesk rejected the request (${text})`, {
    ...base,
    ...(field ? { field } : {}),
  });
}

/** Classifies anything an HTTP call to Zendesk threw; errors that are not HTTP failures pass through. */
export function classifyZendeskFailure(err: unknown, context: string): Error {
  if (err instanceof ShipsyncError) return err;
  if (!isAxiosError(err)) return err instanceof Error ? err : new Error(String(err));
  if (err.response) {
    return classifyZendeskResponse(err.response.status, err.response.headers, err.response.data, context);
  }
  // No answer at all: refused, reset, timed out or unresolvable; all may heal.
  return new ShipsyncError(
    'CRM_UNAVAILABLE',
    `${context}: Zendesk could not be reached (${err.code ?? err.message})`,
  );
}
