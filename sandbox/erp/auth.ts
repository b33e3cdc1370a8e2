import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where SAP's OAuth 2.0 server issues tokens (client credentials grant). */
export const OAUTH_TOKEN_PATH = '/sap/bc/sec/oauth2/token';

/** The credentials the ERP sandbox accepts, as an SAP system configured for basic auth and/or OAuth. */
export interface ErpSandboxAuth {
  /** A communication user for HTTP basic authentication. */
  basic?: { username: string; password: string };
  /** An OAuth 2.0 client (client credentials grant) whose bearer tokens the OData services accept. */
  oauth?: { clientId: string; clientSecret: string; tokenLifetimeSeconds?: number };
}

const REALM = 'SAP NetWeaver Application Server [S4H/100]';

/** SAP's logon error page, as its ICF answers a refused logon. */
const LOGON_ERROR_PAGE = `<html><head><title>Logon Error Message</title></head><body><h1>Logon failed</h1><p>Logon failed. The user name or password is incorrect, or the user is locked.</p><p>Server: S4H, client 100</p></body></html>`;

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Logon checks of the sandbox's OData services, as SAP's ICF does them: basic authentication of a
 * communication user, or an OAuth bearer token from `/sap/bc/sec/oauth2/token`; a refused logon gets 401
 * with SAP's logon error page and `WWW-Authenticate`. Without any credential configured every request
 * passes, as before. Counts the tokens issued and the logons refused (tests read them).
 */
export class ErpLogon {
  private readonly tokens = new Map<string, number>();
  tokensIssued = 0;
  refused = 0;

  constructor(
    private readonly auth: ErpSandboxAuth | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when the sandbox checks credentials at all. */
  get enabled(): boolean {
    return Boolean(this.auth?.basic || this.auth?.oauth);
  }

  /** Ends every issued token now, as a server restart would. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** Registers the token endpoint and the logon check of every path under `odataRoot`. */
  install(app: FastifyInstance, odataRoot: string): void {
    if (!this.enabled) return;
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 8192 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    app.post(OAUTH_TOKEN_PATH, async (req, reply) => this.issue(req.headers.authorization, req.body, reply));
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith(odataRoot)) return;
      if (this.accepts(req.headers.authorization)) return;
      this.refused += 1;
      const bearer = /^Bearer\s/i.test(req.headers.authorization ?? '');
      return reply
        .code(401)
        .header(
          'www-authenticate',
          bearer && this.auth?.oauth
            ? `Bearer realm="${REALM}", error="invalid_token"`
            : `Basic realm="${REALM}"`,
        )
        .header('content-type', 'text/html; charset=utf-8')
        .send(LOGON_ERROR_PAGE);
    });
  }

  private accepts(header: string | undefined): boolean {
    const { basic, oauth } = this.auth ?? {};
    const bearer = header ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header)?.[1] : undefined;
    if (bearer && oauth) {
      const expires = this.tokens.get(bearer);
      return expires !== undefined && expires > this.now();
    }
    const given = basicCredentials(header);
    return Boolean(
      basic && given && same(given.user, basic.username) && same(given.password, basic.password),
    );
  }

  private issue(header: string | undefined, body: unknown, reply: FastifyReply) {
    const oauth = this.auth?.oauth;
    const form = (body ?? {}) as Record<string, string | undefined>;
    const client = basicCredentials(header) ?? {
      user: form.client_id ?? '',
      password: form.client_secret ?? '',
    };
    if (!oauth || !same(client.user, oauth.clientId) || !same(client.password, oauth.clientSecret)) {
      this.refused += 1;
      return reply
        .code(401)
        .header('www-authenticate', `Basic realm="${REALM}"`)
        .send({ error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    if (form.grant_type !== 'client_credentials')
      return reply.code(400).send({
        error: 'unsupported_grant_type',
        error_description: `grant_type ${String(form.grant_type ?? '(none)').slice(0, 40)} is not supported`,
      });
    const lifetime = oauth.tokenLifetimeSeconds ?? 3600;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, this.now() + lifetime * 1000);
    this.tokensIssued += 1;
    return reply.header('cache-control', 'no-store').send({
      access_token: token,
      token_type: 'Bearer',
      expires_in: lifetime,
      scope: form.scope ?? 'API_OUTBOUND_DELIVERY_SRV_0002',
    });
  }
}
