import axios, { isAxiosError, type AxiosInstance } from 'axios';
import { z } from 'zod';
import { ShipsyncError } from '../../domain/errors.js';

/** An OAuth 2.0 client of the client-credentials grant (RFC 6749 §4.4), as SAP's OAuth server issues them. */
export interface OAuthClientCredentials {
  /** Token endpoint, e.g. `https://s4.example.com/sap/bc/sec/oauth2/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes to ask for; the server's default when absent. */
  scope?: string;
}

const TokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i, 'expected a bearer token'),
  expires_in: z.coerce.number().int().positive().optional(),
});

/** Tokens are renewed this long before they expire, so none expires on its way to the server. */
const EXPIRY_MARGIN_MS = 30_000;
/** Lifetime assumed when the server does not say (RFC 6749 makes expires_in optional). */
const DEFAULT_LIFETIME_MS = 300_000;

/**
 * Fetches an access token with the client credentials (HTTP Basic authentication of the client, as
 * RFC 6749 §2.3.1 prefers) and keeps it until shortly before it expires; concurrent callers share one
 * fetch. A refused client is ERP_BUSINESS_REJECTED naming the token endpoint's error (a retry cannot help);
 * an unreachable or failing endpoint is ERP_UNAVAILABLE.
 */
export class OAuthTokenSource {
  private readonly http: AxiosInstance;
  private cached: { token: string; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;
  /** Tokens fetched so far (tests and logs). */
  fetches = 0;

  constructor(
    private readonly client: OAuthClientCredentials,
    private readonly now: () => number = Date.now,
    timeoutMs = 10_000,
  ) {
    this.http = axios.create({ timeout: timeoutMs, validateStatus: () => true });
  }

  /** A valid access token: the cached one, or a new one. */
  async token(): Promise<string> {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.token;
    this.pending ??= this.fetch().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the cached token (the server refused it before its time, e.g. after a restart). */
  invalidate(token?: string): void {
    if (token === undefined || this.cached?.token === token) this.cached = undefined;
  }

  private async fetch(): Promise<string> {
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.client.scope) body.set('scope', this.client.scope);
    const what = `fetch an OAuth token from ${this.client.tokenUrl}`;
    let res;
    try {
      res = await this.http.post(this.client.tokenUrl, body.toString(), {
        auth: { username: this.client.clientId, password: this.client.clientSecret },
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      });
    } catch (err) {
      if (isAxiosError(err))
        throw new ShipsyncError('ERP_UNAVAILABLE', `${what}: unreachable (${err.code ?? err.message})`, {});
      throw err;
    }
    if (res.status >= 500 || res.status === 429)
      throw new ShipsyncError('ERP_UNAVAILABLE', `${what}: answered ${res.status}`, { status: res.status });
    if (res.status !== 200) {
      const error = (res.data as { error?: unknown } | undefined)?.error;
      throw new ShipsyncError(
        'ERP_BUSINESS_REJECTED',
        `${what}: refused with ${res.status}${typeof error === 'string' ? ` (${error})` : ''}`,
        { status: res.status },
      );
    }
    const parsed = TokenResponse.safeParse(res.data);
    if (!parsed.success)
      throw new ShipsyncError('ERP_UNAVAILABLE', `${what}: the answer is not a bearer token`, {});
    this.fetches += 1;
    const lifetime = (parsed.data.expires_in ?? DEFAULT_LIFETIME_MS / 1000) * 1000;
    this.cached = {
      token: parsed.data.access_token,
      renewAt: this.now() + Math.max(lifetime - EXPIRY_MARGIN_MS, lifetime / 2),
    };
    return parsed.data.access_token;
  }
}
