import { createHash, randomBytes } from 'node:crypto';
import { MESSAGES, ODataError } from './odata.js';

/** The session cookie SAP Gateway sets (system S4H, client 100). */
export const SESSION_COOKIE = 'SAP_SESSIONID_S4H_100';

/**
 * CSRF protection as SAP Gateway does it: a GET with `X-CSRF-Token: Fetch` returns a token bound to a
 * session cookie; a modifying request must send both, or it gets 403 with `X-CSRF-Token: Required`.
 */
export class CsrfSessions {
  private readonly sessions = new Map<string, string>();
  private expireOnWrites = 0;

  /** The session's token, opening a session when the request carries none; returns cookies to set. */
  fetch(cookieHeader: string | undefined): { token: string; setCookies: string[] } {
    const existing = readCookie(cookieHeader, SESSION_COOKIE);
    const token = existing ? this.sessions.get(existing) : undefined;
    if (existing && token) return { token, setCookies: [] };
    const session = randomBytes(24).toString('base64url');
    const fresh = randomBytes(16).toString('base64');
    this.sessions.set(session, fresh);
    return {
      token: fresh,
      setCookies: [
        `${SESSION_COOKIE}=${session}; path=/; HttpOnly`,
        'sap-usercontext=sap-client=100; path=/',
      ],
    };
  }

  /** Throws the 403 SAP answers when the token is missing, unknown, or not the session's. */
  check(cookieHeader: string | undefined, tokenHeader: string | undefined) {
    if (this.expireOnWrites > 0) {
      this.expireOnWrites -= 1;
      this.sessions.clear();
    }
    const session = readCookie(cookieHeader, SESSION_COOKIE);
    const expected = session ? this.sessions.get(session) : undefined;
    if (!expected || !tokenHeader || tokenHeader !== expected) {
      throw new ODataError(403, MESSAGES.csrf, 'CSRF token validation failed', '', {
        'x-csrf-token': 'Required',
      });
    }
  }

  /** Ends every session now (as a session timeout would), and again before each of the next writes. */
  expireAll(alsoOnNextWrites = 0) {
    this.sessions.clear();
    this.expireOnWrites = alsoOnNextWrites;
  }
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A repeatable request's identity (OASIS Repeatable Requests 1.0, as SAP supports it). */
export interface Repeatability {
  /** Normalised request id, lower-case 8-4-4-4-12. */
  id: string;
  /** Storage key: client id (if any) and request id. */
  key: string;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Reads `Repeatability-Request-ID` / `-First-Sent` / `-Client-ID`; malformed values are a 400. */
export function readRepeatability(
  headers: Record<string, string | string[] | undefined>,
): Repeatability | undefined {
  const single = (name: string): string | undefined => {
    const v = headers[name];
    if (Array.isArray(v)) {
      throw new ODataError(400, MESSAGES.repeatabilityInvalid, `Header ${name} given more than once`, '', {
        'repeatability-result': 'rejected',
      });
    }
    return v;
  };
  const requestId = single('repeatability-request-id');
  if (requestId === undefined) return undefined;
  if (!UUID.test(requestId.trim())) {
    throw new ODataError(
      400,
      MESSAGES.repeatabilityInvalid,
      'Repeatability-Request-ID must be a UUID (32 hex digits, dashes optional)',
      '',
      { 'repeatability-result': 'rejected' },
    );
  }
  const firstSent = single('repeatability-first-sent');
  if (firstSent !== undefined && !Number.isFinite(Date.parse(firstSent))) {
    throw new ODataError(
      400,
      MESSAGES.repeatabilityInvalid,
      'Repeatability-First-Sent must be an HTTP date (IMF-fixdate)',
      '',
      { 'repeatability-result': 'rejected' },
    );
  }
  const hex = requestId.trim().replace(/-/g, '').toLowerCase();
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  const client = single('repeatability-client-id')?.slice(0, 100) ?? '';
  return { id, key: `${client}|${id}` };
}

/** JSON with object keys sorted, so the same content always serialises the same way. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** What makes two requests "the same request": method, resource, query and body content. */
export function requestFingerprint(method: string, resource: string, query: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${resource}?${query}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}
