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

/**
 * The field a job result's error names: Zendesk words a validation problem `Status: closed prevents ticket
 * update`, so the label before the colon, in snake case (`Follow up date` → `follow_up_date`).
 */
function fieldOfDetails(text: string): string | undefined {
  const m = /^\s*([A-Za-z][A-Za-z ]*?)\s*(\([^)]*\))?\s*:/.exec(text);
  return m?.[1] ? m[1].trim().toLowerCase().replace(/\s+/g, '_') : undefined;
}

/**
 * Classifies one failed item of a bulk job (`create_many`, `update_many`): the code a single call for that
 * item gets. An unknown ticket is CRM_TICKET_NOT_FOUND as a 404 is; anything else Zendesk refused for that
 * item is CRM_REJECTED as a 422 `RecordInvalid` is, naming the field its details name.
 */
export function classifyZendeskJobResult(
  result: { error?: unknown; details?: unknown },
  context: string,
): ShipsyncError {
  const name = typeof result.error === 'string' && result.error ? result.error : 'Failed';
  const text = typeof result.details === 'string' ? result.details : '';
  if (name === 'RecordNotFound' || name === 'TicketNotFound') {
    return classifyZendeskResponse(404, {}, { error: name, description: text || 'Not found' }, context);
  }
  const field = fieldOfDetails(text);
  const details =
    typeof result.details === 'object' && result.details !== null
      ? result.details
      : field
        ? { [field]: [{ description: text }] }
        : undefined;
  return classifyZendeskResponse(
    422,
    {},
    { error: name, ...(text ? { description: text } : {}), ...(details ? { details } : {}) },
    context,
  );
}
