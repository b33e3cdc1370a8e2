import type { Payload } from '@temporalio/common';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { z } from 'zod';
import { ShipsyncError } from '../domain/errors.js';
import {
  AesGcmPayloadCodec,
  PayloadKeyUnknownError,
  payloadKeyId,
  type PayloadKeyring,
} from '../platform/codec.js';
import type { Config, Role } from '../platform/config.js';
import type { AppLogger } from '../platform/logger.js';
import type { Store } from '../storage/store.js';
import { bearerToken, Principals, type Principal } from './auth.js';
import { errorText } from './forwarder.js';

/**
 * Roles that may use the codec server: reading decrypted payloads is reading the personal data of every
 * shipment, so `ops` (the staff who inspect runs in the Web UI), `auditor`, and `admin`, who already reads
 * dead letters' raw bodies. Every call is an audit row.
 */
export const CODEC_ROLES: readonly Role[] = ['ops', 'auditor', 'admin'];
/** The cookie a browser session carries the token in when the Web UI cannot send an Authorization header. */
export const CODEC_SESSION_COOKIE = 'shipsync_codec';
/** How long a browser session's cookie lives. */
const SESSION_SECONDS = 8 * 3600;
/** Headers a Web UI sends with its codec calls. */
const ALLOWED_HEADERS = 'authorization, content-type, x-namespace';
/** Requested preflight headers the server echoes back: header names only. */
const HEADER_LIST = /^[a-z0-9-]+(\s*,\s*[a-z0-9-]+){0,19}$/i;

/** A payload in the protocol's JSON form (protobuf JSON: bytes as base64). */
const JsonPayload = z.strictObject({
  metadata: z.record(z.string().max(256), z.string().max(4096)).optional(),
  data: z.string().optional(),
});
/** The body of `POST /encode` and `POST /decode`. */
const PayloadsBody = z.strictObject({ payloads: z.array(JsonPayload).max(10_000) });
type JsonPayload = z.infer<typeof JsonPayload>;

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}

/** An error answer of the codec server: status and the gateway's `{code, message, field?}` body. */
class CodecError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}

/** The value of one cookie of a request. */
function cookie(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      try {
        return decodeURIComponent(part.slice(at + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Everything a codec server needs. */
export interface CodecServerDeps {
  config: Pick<Config, 'SHIPSYNC_TEMPORAL_NAMESPACE' | 'SHIPSYNC_CODEC_CORS_ORIGINS' | 'SHIPSYNC_PRINCIPALS'>;
  keyring: PayloadKeyring;
  /** The gateway's store, whose audit trail records every decode. */
  store: Store;
  logger: AppLogger;
  now?: () => Date;
}

/**
 * The remote codec server of the Temporal Web UI and CLI (Temporal's codec protocol: `POST …/encode` and
 * `POST …/decode` with `{payloads}` as protobuf JSON, the `X-Namespace` header). A caller is a principal
 * with the ops, auditor or admin role, by `Authorization: Bearer <token>` or, for a browser whose Web UI sends no
 * token, by the session cookie `POST /session` sets. Every call is written to the audit trail before the
 * answer leaves, with the principal, the number of payloads and the namespace; a decode whose row cannot be
 * written is refused, since the row is the only trace of who read the plain text. Browsers are let in from
 * SHIPSYNC_CODEC_CORS_ORIGINS only.
 */
export async function createCodecServer(d: CodecServerDeps): Promise<FastifyInstance> {
  const now = d.now ?? (() => new Date());
  if (!d.config.SHIPSYNC_PRINCIPALS)
    throw new ShipsyncError('CONFIG_INVALID', 'the codec server needs principals (SHIPSYNC_PRINCIPALS)');
  const principals = new Principals(d.config.SHIPSYNC_PRINCIPALS);
  const codec = new AesGcmPayloadCodec(d.keyring);
  const origins = new Set(d.config.SHIPSYNC_CODEC_CORS_ORIGINS);
  const namespace = d.config.SHIPSYNC_TEMPORAL_NAMESPACE;

  const app = Fastify({
    loggerInstance: d.logger.child({ component: 'codec-server' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024 * 1024,
  }) as unknown as FastifyInstance;

  // CORS: only the configured Web UI origins, with credentials (the session cookie) allowed.
  app.addHook('onRequest', async (req, reply) => {
    const origin = req.headers.origin;
    if (origin === undefined) return;
    if (!origins.has(origin)) {
      if (req.method === 'OPTIONS')
        throw new CodecError(
          403,
          'FORBIDDEN',
          `origin ${origin.slice(0, 100)} is not in SHIPSYNC_CODEC_CORS_ORIGINS`,
        );
      return;
    }
    void reply.header('access-control-allow-origin', origin);
    void reply.header('access-control-allow-credentials', 'true');
    void reply.header('vary', 'Origin');
    if (req.method === 'OPTIONS') {
      const requested = req.headers['access-control-request-headers'];
      void reply.header('access-control-allow-methods', 'POST, DELETE, OPTIONS');
      void reply.header(
        'access-control-allow-headers',
        typeof requested === 'string' && HEADER_LIST.test(requested) ? requested : ALLOWED_HEADERS,
      );
      void reply.header('access-control-max-age', '600');
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof CodecError)
      return reply
        .status(err.status)
        .send({ code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500)
      return reply.status(status).send({ code: 'VALIDATION_FAILED', message: (err as Error).message });
    req.log.error({ err: errorText(err), url: req.url.slice(0, 200) }, 'codec request failed');
    return reply.status(500).send({ code: 'INTERNAL_ERROR', message: 'the codec server failed' });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .send({ code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url.slice(0, 100)}` }),
  );

  /** The caller: its principal, or 401 / 403 as CodecErrors (403 keeps the principal for the audit row). */
  function authenticate(req: FastifyRequest): { principal: Principal; role: Role } {
    const token = bearerToken(req.headers.authorization) ?? cookie(req, CODEC_SESSION_COOKIE);
    if (!token)
      throw new CodecError(
        401,
        'UNAUTHENTICATED',
        'send Authorization: Bearer <token>, or sign in at /session',
      );
    const principal = principals.resolve(token);
    if (!principal) throw new CodecError(401, 'UNAUTHENTICATED', 'unknown bearer token');
    const role = CODEC_ROLES.find((r) => principal.roles.includes(r));
    if (!role) {
      throw Object.assign(
        new CodecError(
          403,
          'FORBIDDEN',
          `${principal.id} (${principal.roles.join(', ') || 'no roles'}) may not read payloads; allowed: ${CODEC_ROLES.join(', ')}`,
        ),
        { principal },
      );
    }
    return { principal, role };
  }

  async function audit(
    req: FastifyRequest,
    e: {
      principal: Principal;
      role?: Role;
      action: string;
      status: number;
      outcome: string;
      detail: Record<string, unknown>;
    },
  ) {
    await d.store.audit.append({
      at: now().toISOString(),
      principalId: e.principal.id,
      principalKind: e.principal.kind,
      ...(e.role ? { role: e.role } : {}),
      action: e.action,
      method: req.method,
      route: `${req.method} ${req.url.split('?')[0]?.slice(0, 200) ?? ''}`,
      statusCode: e.status,
      outcome: e.outcome,
      detail: e.detail,
    });
  }

  async function convert(req: FastifyRequest, reply: FastifyReply, op: 'encode' | 'decode') {
    const action = `codec.${op}`;
    const ns =
      typeof req.headers['x-namespace'] === 'string' ? req.headers['x-namespace'].slice(0, 200) : undefined;
    let caller: { principal: Principal; role: Role };
    try {
      caller = authenticate(req);
    } catch (err) {
      const principal = (err as { principal?: Principal }).principal;
      if (principal)
        await audit(req, {
          principal,
          action,
          status: 403,
          outcome: 'FORBIDDEN',
          detail: { namespace: ns ?? null },
        });
      throw err;
    }
    const parsed = PayloadsBody.safeParse(req.body);
    const count = parsed.success ? parsed.data.payloads.length : 0;
    const record = (status: number, outcome: string, extra: Record<string, unknown> = {}) =>
      audit(req, {
        ...caller,
        action,
        status,
        outcome,
        detail: { payloads: count, namespace: ns ?? null, ...extra },
      });
    if (ns !== undefined && ns !== namespace) {
      await record(403, 'FORBIDDEN');
      throw new CodecError(
        403,
        'FORBIDDEN',
        `this codec server serves namespace ${namespace}, not ${ns}`,
        'X-Namespace',
      );
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      await record(400, 'VALIDATION_FAILED');
      throw new CodecError(
        400,
        'VALIDATION_FAILED',
        issue?.message ?? 'expected {payloads: [...]}',
        issue?.path.join('.'),
      );
    }
    const payloads = parsed.data.payloads.map(fromJson);
    let out: Payload[];
    try {
      out = op === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
    } catch (err) {
      if (err instanceof PayloadKeyUnknownError) {
        await record(422, 'PAYLOAD_KEY_UNKNOWN', { keyId: err.keyId });
        throw new CodecError(422, 'PAYLOAD_KEY_UNKNOWN', err.message);
      }
      await record(422, 'PAYLOAD_UNDECODABLE');
      throw new CodecError(
        422,
        'PAYLOAD_UNDECODABLE',
        'a payload does not decrypt with the key it names (altered or truncated)',
      );
    }
    const keyIds = [...new Set(payloads.map(payloadKeyId).filter((k): k is string => !!k))];
    try {
      await record(200, 'ok', op === 'decode' ? { keyIds } : { keyId: d.keyring.currentId });
    } catch (err) {
      req.log.error(
        { err: errorText(err), principal: caller.principal.id },
        'codec audit row could not be written',
      );
      throw new CodecError(
        503,
        'STORE_UNAVAILABLE',
        'the audit trail cannot be written; nothing was decoded',
      );
    }
    return reply.send({ payloads: out.map(toJson) });
  }

  app.get('/healthz', async () => ({ status: 'ok', keyIds: d.keyring.ids.length }));
  // Preflight of any path (the protocol lets the endpoints sit at any depth); headers are set above.
  app.options('/*', async (_req, reply) => reply.status(204).send());
  // The protocol looks only at the last part of the path, so `/ns/default/decode` works as `/decode` does.
  app.post('/*', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (path.endsWith('/decode')) return convert(req, reply, 'decode');
    if (path.endsWith('/encode')) return convert(req, reply, 'encode');
    if (path === '/session') return signIn(req, reply);
    throw new CodecError(404, 'ROUTE_NOT_FOUND', `no route POST ${path.slice(0, 100)}`);
  });

  /** Exchanges a token (Authorization header or `{token}`) for the session cookie of this origin. */
  async function signIn(req: FastifyRequest, reply: FastifyReply) {
    const bodyToken = (req.body as { token?: unknown } | undefined)?.token;
    const token =
      bearerToken(req.headers.authorization) ??
      (typeof bodyToken === 'string' && /^[\x21-\x7e]{1,512}$/.test(bodyToken) ? bodyToken : undefined);
    if (!token)
      throw new CodecError(
        401,
        'UNAUTHENTICATED',
        'send the token as {"token": "..."} or Authorization: Bearer',
      );
    const principal = principals.resolve(token);
    if (!principal) throw new CodecError(401, 'UNAUTHENTICATED', 'unknown bearer token');
    const role = CODEC_ROLES.find((r) => principal.roles.includes(r));
    await audit(req, {
      principal,
      ...(role ? { role } : {}),
      action: 'codec.session',
      status: role ? 200 : 403,
      outcome: role ? 'ok' : 'FORBIDDEN',
      detail: {},
    });
    if (!role)
      throw new CodecError(
        403,
        'FORBIDDEN',
        `${principal.id} may not read payloads; allowed: ${CODEC_ROLES.join(', ')}`,
      );
    const secure = req.protocol === 'https' ? '; Secure' : '';
    void reply.header(
      'set-cookie',
      `${CODEC_SESSION_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_SECONDS}${secure}`,
    );
    return reply.send({ principal: principal.id, role, expiresInSeconds: SESSION_SECONDS });
  }

  app.delete('/session', async (_req, reply) => {
    void reply.header('set-cookie', `${CODEC_SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return reply.status(204).send();
  });

  // A sign-in page for operators whose Web UI runs without its own login (the dev server's): it posts the
  // token to /session, and the Web UI's codec calls then carry the cookie ("include cross-origin credentials").
  app.get('/session', async (_req, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; style-src 'unsafe-inline'",
      )
      .send(SIGN_IN_PAGE),
  );

  return app;
}

const SIGN_IN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shipsync codec server: sign in</title>
<style>body{font:15px system-ui;margin:3em auto;max-width:36em}input{width:100%;padding:.4em}</style></head>
<body><h1>shipsync codec server</h1>
<p>Paste the API token of a principal with the ops, auditor or admin role. The browser keeps it in an
HTTP-only cookie of this server for eight hours; the Temporal Web UI then decodes payloads through this
server when its codec settings include cross-origin credentials.</p>
<form id="f"><input id="t" type="password" autocomplete="off" placeholder="token" aria-label="token">
<p><button>Sign in</button></p></form><p id="out" role="status"></p>
<script>
document.getElementById('f').addEventListener('submit', async (e) => {
  e.preventDefault();
  const res = await fetch('/session', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: document.getElementById('t').value }) });
  const body = await res.json();
  document.getElementById('out').textContent = res.ok ? 'Signed in as ' + body.principal + ' (' + body.role + ')' : body.message;
});
</script></body></html>`;
