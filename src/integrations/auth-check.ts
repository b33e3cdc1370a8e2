import axios, { isAxiosError } from 'axios';
import { ShipsyncError } from '../domain/errors.js';
import type { Config } from '../platform/config.js';
import { ERP_PATHS } from './erp/adapter.js';
import { OAuthTokenSource, type OAuthClientCredentials } from './erp/oauth.js';

/** The three vendors shipsync calls. */
export type Vendor = 'erp' | 'dispatch' | 'crm';

/**
 * What a vendor's cheapest authenticated endpoint said about our credential: `ok`, `failed` (refused: 401
 * or 403), `unreachable` (no answer, or a 5xx/429 that says nothing about the credential), or
 * `unconfigured` (this process holds no credential for it).
 */
export type VendorAuthStatus = 'ok' | 'failed' | 'unreachable' | 'unconfigured';

/** The outcome of one check, with what the vendor answered (never the credential). */
export interface VendorAuthResult {
  vendor: Vendor;
  status: VendorAuthStatus;
  detail: string;
}

/** How to reach and authenticate with each vendor. */
export interface VendorCredentials {
  erp: {
    baseUrl: string;
    basic?: { username: string; password: string };
    oauth?: OAuthClientCredentials;
  };
  dispatch: { baseUrl: string; apiKey?: string };
  crm: { baseUrl: string; email?: string; token?: string };
}

/** The vendor credentials of a configuration (the dispatch API key, the SAP user or client, Zendesk's token). */
export function vendorCredentialsFromConfig(config: Config): VendorCredentials {
  const c = config;
  return {
    erp: {
      baseUrl: c.SHIPSYNC_ERP_URL,
      ...(c.SHIPSYNC_ERP_USERNAME && c.SHIPSYNC_ERP_PASSWORD !== undefined
        ? { basic: { username: c.SHIPSYNC_ERP_USERNAME, password: c.SHIPSYNC_ERP_PASSWORD } }
        : {}),
      ...(c.SHIPSYNC_ERP_OAUTH_TOKEN_URL &&
      c.SHIPSYNC_ERP_OAUTH_CLIENT_ID &&
      c.SHIPSYNC_ERP_OAUTH_CLIENT_SECRET
        ? {
            oauth: {
              tokenUrl: c.SHIPSYNC_ERP_OAUTH_TOKEN_URL,
              clientId: c.SHIPSYNC_ERP_OAUTH_CLIENT_ID,
              clientSecret: c.SHIPSYNC_ERP_OAUTH_CLIENT_SECRET,
              ...(c.SHIPSYNC_ERP_OAUTH_SCOPE ? { scope: c.SHIPSYNC_ERP_OAUTH_SCOPE } : {}),
            },
          }
        : {}),
    },
    dispatch: {
      baseUrl: c.SHIPSYNC_DISPATCH_URL,
      ...(c.SHIPSYNC_DISPATCH_API_KEY ? { apiKey: c.SHIPSYNC_DISPATCH_API_KEY } : {}),
    },
    crm: {
      baseUrl: c.SHIPSYNC_CRM_URL,
      ...(c.SHIPSYNC_CRM_EMAIL && c.SHIPSYNC_CRM_API_TOKEN
        ? { email: c.SHIPSYNC_CRM_EMAIL, token: c.SHIPSYNC_CRM_API_TOKEN }
        : {}),
    },
  };
}

const trim = (url: string) => url.replace(/\/+$/, '');
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function probe(
  vendor: Vendor,
  what: string,
  request: () => Promise<{ status: number }>,
): Promise<VendorAuthResult> {
  try {
    const res = await request();
    if (res.status >= 200 && res.status < 300)
      return { vendor, status: 'ok', detail: `${what}: ${res.status}` };
    if (res.status === 401 || res.status === 403)
      return { vendor, status: 'failed', detail: `${what}: refused with ${res.status}` };
    return { vendor, status: 'unreachable', detail: `${what}: answered ${res.status}` };
  } catch (err) {
    if (err instanceof ShipsyncError)
      return {
        vendor,
        status: err.code === 'ERP_UNAVAILABLE' ? 'unreachable' : 'failed',
        detail: err.message,
      };
    const code = isAxiosError(err) ? (err.code ?? err.message) : String(err);
    return { vendor, status: 'unreachable', detail: `${what}: ${code}` };
  }
}

/**
 * Checks each vendor credential on the vendor's cheap authenticated endpoint: Onfleet `GET /api/v2/auth/test`,
 * Zendesk `GET /api/v2/users/me`, and for SAP a CSRF token fetch on the outbound delivery service (after an
 * OAuth token fetch with client credentials). A vendor without a credential here is `unconfigured` and not
 * called. `oauth` lets a caller reuse its token source (and its cached token).
 */
export async function checkVendorAuth(
  creds: VendorCredentials,
  opts: { timeoutMs?: number; oauth?: OAuthTokenSource } = {},
): Promise<VendorAuthResult[]> {
  const http = axios.create({ timeout: opts.timeoutMs ?? 5_000, validateStatus: () => true });
  const erp = async (): Promise<VendorAuthResult> => {
    const { basic: b, oauth } = creds.erp;
    if (!b && !oauth) return { vendor: 'erp', status: 'unconfigured', detail: 'no SAP user or OAuth client' };
    const tokens = oauth ? (opts.oauth ?? new OAuthTokenSource(oauth, Date.now, opts.timeoutMs)) : undefined;
    return probe('erp', 'SAP CSRF token fetch', async () => {
      const authorization = tokens ? `Bearer ${await tokens.token()}` : basic(b!.username, b!.password);
      return http.get(`${trim(creds.erp.baseUrl)}${ERP_PATHS.delivery}/`, {
        headers: { authorization, 'x-csrf-token': 'Fetch', accept: 'application/json' },
      });
    });
  };
  const dispatch = async (): Promise<VendorAuthResult> => {
    const key = creds.dispatch.apiKey;
    if (!key) return { vendor: 'dispatch', status: 'unconfigured', detail: 'no Onfleet API key' };
    return probe('dispatch', 'Onfleet GET /auth/test', () =>
      http.get(`${trim(creds.dispatch.baseUrl)}/api/v2/auth/test`, {
        headers: { authorization: basic(key, '') },
      }),
    );
  };
  const crm = async (): Promise<VendorAuthResult> => {
    const { email, token } = creds.crm;
    if (!email || !token)
      return { vendor: 'crm', status: 'unconfigured', detail: 'no Zendesk email and API token' };
    return probe('crm', 'Zendesk GET /users/me', () =>
      http.get(`${trim(creds.crm.baseUrl)}/api/v2/users/me.json`, {
        headers: { authorization: basic(`${email}/token`, token) },
      }),
    );
  };
  return Promise.all([erp(), dispatch(), crm()]);
}
