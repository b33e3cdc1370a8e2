import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { z } from 'zod';
import { CASE_SLA_KINDS, type CaseSlaKind } from '../domain/model.js';

const port = z.coerce.number().int().min(0).max(65535);
const url = z.url();

/**
 * The two profiles. `sandbox` runs against the vendor sandboxes with the documented development secrets and
 * tokens; `production` has no defaults for any secret and refuses to start without safe ones.
 */
export const PROFILES = ['sandbox', 'production'] as const;
/** A configuration profile. */
export type Profile = (typeof PROFILES)[number];

/**
 * Roles a principal can hold on the gateway's API. `ops` is the operations staff who watch runs in the Temporal
 * Web UI: they read shipments and decrypted payloads, and change nothing.
 */
export const ROLES = ['dispatcher', 'agent', 'finance', 'admin', 'auditor', 'ops'] as const;
/** A gateway API role. */
export type Role = (typeof ROLES)[number];

/** Who a principal is: a person, or a service (a vendor bridge, a scraper, a batch job). */
export const PRINCIPAL_KINDS = ['person', 'service'] as const;

/** Shortest secret or token production accepts. */
export const MIN_SECRET_LENGTH = 32;

const sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'expected the hex SHA-256 of the token (64 lower-case hex digits)');

/** Principal ids: printable, short enough for the ERP's approver field, usable in logs and audit rows. */
export const PrincipalId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._@-]{0,39}$/,
    'expected 1 to 40 letters, digits, dot, underscore, @ or dash, starting with a letter or digit',
  );

/** One principal as configured: who it is, what it may do, and the SHA-256 of each of its tokens. */
export const PrincipalEntry = z.strictObject({
  id: PrincipalId,
  kind: z.enum(PRINCIPAL_KINDS),
  /** May be empty: such a principal reads only /metrics and /docs. */
  roles: z.array(z.enum(ROLES)).max(ROLES.length),
  /** One hash, or several while a token is being rotated. */
  tokenSha256: z.union([sha256Hex, z.array(sha256Hex).min(1).max(4)]),
});
export type PrincipalEntry = z.infer<typeof PrincipalEntry>;

/** A configured principal with its token hashes as a list. */
export interface PrincipalConfig {
  id: string;
  kind: (typeof PRINCIPAL_KINDS)[number];
  roles: Role[];
  tokenSha256: string[];
}

/** The principals of a deployment: ids and token hashes unique. */
export const PrincipalList = z
  .array(PrincipalEntry)
  .min(1)
  .max(10_000)
  .transform((list, ctx): PrincipalConfig[] => {
    const out = list.map((p) => ({
      ...p,
      roles: [...new Set(p.roles)],
      tokenSha256: typeof p.tokenSha256 === 'string' ? [p.tokenSha256] : p.tokenSha256,
    }));
    const ids = new Set<string>();
    const hashes = new Set<string>();
    for (const p of out) {
      if (ids.has(p.id)) ctx.addIssue({ code: 'custom', message: `principal id "${p.id}" appears twice` });
      ids.add(p.id);
      for (const h of p.tokenSha256) {
        if (hashes.has(h)) ctx.addIssue({ code: 'custom', message: `a token hash of "${p.id}" is shared` });
        hashes.add(h);
      }
    }
    return out;
  });

/** Hex SHA-256 of a token, as principals store it. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The sandbox profile's development principals; their tokens are printed in the docs, so never for production. */
export const SANDBOX_PRINCIPALS: readonly { id: string; role: Role; token: string }[] = [
  { id: 'dev-dispatcher', role: 'dispatcher', token: 'dev-dispatcher' },
  { id: 'dev-agent', role: 'agent', token: 'dev-agent' },
  { id: 'dev-finance', role: 'finance', token: 'dev-finance' },
  { id: 'dev-finance-2', role: 'finance', token: 'dev-finance-2' },
  { id: 'dev-admin', role: 'admin', token: 'dev-admin' },
  { id: 'dev-auditor', role: 'auditor', token: 'dev-auditor' },
  { id: 'dev-ops', role: 'ops', token: 'dev-ops' },
];

/** The sandbox profile's secrets, which production refuses. */
export const SANDBOX_SECRETS = {
  SHIPSYNC_DISPATCH_API_KEY: 'sandbox-dispatch-key',
  SHIPSYNC_DISPATCH_WEBHOOK_SECRET: 'sandbox-dispatch-webhook-secret',
  SHIPSYNC_CRM_WEBHOOK_SECRET: 'sandbox-crm-webhook-secret',
  SHIPSYNC_ERP_WEBHOOK_TOKEN: 'sandbox-erp-push-token',
} as const;

/** A key holding a shared secret. */
export type SecretKey = keyof typeof SANDBOX_SECRETS;
const SECRET_KEYS = Object.keys(SANDBOX_SECRETS) as SecretKey[];

/** Shortest values the sandbox profile accepts (production asks for MIN_SECRET_LENGTH). */
const SANDBOX_MIN_LENGTH: Record<SecretKey, number> = {
  SHIPSYNC_DISPATCH_API_KEY: 1,
  SHIPSYNC_DISPATCH_WEBHOOK_SECRET: 16,
  SHIPSYNC_CRM_WEBHOOK_SECRET: 16,
  SHIPSYNC_ERP_WEBHOOK_TOKEN: 8,
};

/** Keys whose empty value means "set to nothing" (refused) rather than "unset". */
const NEVER_EMPTY = new Set<string>([
  ...SECRET_KEYS,
  'SHIPSYNC_PAYLOAD_KEY',
  'SHIPSYNC_PAYLOAD_KEYS',
  'SHIPSYNC_PAYLOAD_KEYS_FILE',
  'SHIPSYNC_PRINCIPALS',
  'SHIPSYNC_PRINCIPALS_FILE',
  'SHIPSYNC_API_TOKEN',
  'SHIPSYNC_API_TOKENS',
  'SHIPSYNC_TEMPORAL_API_KEY',
  'SHIPSYNC_ERP_PASSWORD',
  'SHIPSYNC_ERP_OAUTH_CLIENT_SECRET',
  'SHIPSYNC_CRM_API_TOKEN',
]);

/** Vendor credentials that come together: each group all or nothing. */
const CREDENTIAL_GROUPS = [
  ['SHIPSYNC_ERP_USERNAME', 'SHIPSYNC_ERP_PASSWORD'],
  ['SHIPSYNC_ERP_OAUTH_TOKEN_URL', 'SHIPSYNC_ERP_OAUTH_CLIENT_ID', 'SHIPSYNC_ERP_OAUTH_CLIENT_SECRET'],
  ['SHIPSYNC_CRM_EMAIL', 'SHIPSYNC_CRM_API_TOKEN'],
] as const;

/** Keys naming files (certificates, keys, CA bundles): each must be readable when set. */
const FILE_KEYS = [
  'SHIPSYNC_GATEWAY_TLS_CERT',
  'SHIPSYNC_GATEWAY_TLS_KEY',
  'SHIPSYNC_TEMPORAL_TLS_CA',
  'SHIPSYNC_TEMPORAL_TLS_CERT',
  'SHIPSYNC_TEMPORAL_TLS_KEY',
  'SHIPSYNC_DATABASE_SSL_CA',
  'SHIPSYNC_DATABASE_SSL_CERT',
  'SHIPSYNC_DATABASE_SSL_KEY',
] as const;

/** Certificate and key pairs: one without the other is refused. */
const FILE_PAIRS = [
  ['SHIPSYNC_GATEWAY_TLS_CERT', 'SHIPSYNC_GATEWAY_TLS_KEY'],
  ['SHIPSYNC_TEMPORAL_TLS_CERT', 'SHIPSYNC_TEMPORAL_TLS_KEY'],
  ['SHIPSYNC_DATABASE_SSL_CERT', 'SHIPSYNC_DATABASE_SSL_KEY'],
] as const;

/** Processes that serve the gateway, so production asks them for HTTPS or a TLS-terminating proxy. */
const SERVES_GATEWAY = new Set<string>(['gateway', 'all']);

/** Published sample values production refuses besides the sandbox defaults (deploy/compose.env.example). */
const SAMPLE_PAYLOAD_KEYS = new Set(['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=']);

/** One key of the payload keyring: its id (stored with every payload it encrypts) and its base64 key. */
export interface PayloadKeyConfig {
  id: string;
  /** base64 of 32 random bytes. */
  key: string;
}

/** Key ids: short and printable, since every payload's metadata carries one. */
const PAYLOAD_KEY_ID = /^[A-Za-z0-9._-]{1,40}$/;
const isPayloadKey = (v: string) =>
  /^[A-Za-z0-9+/_-]{43}=?$/.test(v) && Buffer.from(v, 'base64').length === 32;

/**
 * Parses a keyring, `id:base64` entries separated by commas or new lines (blank lines and `#` comments are
 * skipped in a file); the first entry is the current key, which encrypts, and every entry decrypts. The
 * reason never repeats key material.
 */
export function parsePayloadKeys(text: string): { value?: PayloadKeyConfig[]; reason?: string } {
  const entries = text
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e !== '' && !e.startsWith('#'));
  if (entries.length === 0) return { reason: 'expected id:base64-key entries, the current key first' };
  const keys: PayloadKeyConfig[] = [];
  for (const [i, entry] of entries.entries()) {
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    const key = at > 0 ? entry.slice(at + 1).trim() : '';
    if (!PAYLOAD_KEY_ID.test(id))
      return {
        reason: `entry ${i + 1}: expected id:base64-key with an id of 1 to 40 letters, digits, . _ -`,
      };
    if (!isPayloadKey(key))
      return { reason: `key "${id}": expected base64 of 32 random bytes (openssl rand -base64 32)` };
    if (keys.some((k) => k.id === id)) return { reason: `key id "${id}" appears twice` };
    const dup = keys.find((k) => Buffer.from(k.key, 'base64').equals(Buffer.from(key, 'base64')));
    if (dup) return { reason: `keys "${dup.id}" and "${id}" are the same key` };
    keys.push({ id, key });
  }
  if (keys.length > 16) return { reason: 'at most 16 keys; drop keys no stored payload uses any more' };
  return { value: keys };
}

const payloadKeysText = z.string().transform((raw, ctx): PayloadKeyConfig[] => {
  const parsed = parsePayloadKeys(raw);
  if (!parsed.value) {
    ctx.addIssue({ code: 'custom', message: parsed.reason ?? 'invalid keyring' });
    return z.NEVER;
  }
  return parsed.value;
});

/** Why a payload key is unfit for production (published sample, or one byte repeated), or undefined. */
function unsafePayloadKey(base64: string): string | undefined {
  if (SAMPLE_PAYLOAD_KEYS.has(base64)) return 'is the published sample key';
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.every((b) => b === bytes[0])) return 'is one byte repeated, not random';
  return undefined;
}

/** Comma-separated browser origins (scheme://host[:port]). */
const originList = z
  .string()
  .transform((raw) =>
    raw
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.string().regex(/^https?:\/\/[A-Za-z0-9.[\]:-]+$/, 'expected origins like http://localhost:8233'),
      )
      .max(20),
  );

const principalsJson = z.string().transform((raw, ctx): PrincipalConfig[] => {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON array of principals (docs/security.md)' });
    return z.NEVER;
  }
  const parsed = PrincipalList.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    ctx.addIssue({
      code: 'custom',
      message: `${issue?.path.length ? `${issue.path.join('.')}: ` : ''}${issue?.message ?? 'invalid principals'}`,
    });
    return z.NEVER;
  }
  return parsed.data;
});

const threshold = z.coerce.number().nonnegative().max(1_000_000);

/** `true` or `false` exactly (z.coerce.boolean would read "false" as true). */
/**
 * Resolution SLAs of open cases per kind, `kind=escalate/default` in simulated minutes, comma-separated
 * (`failed_attempt=240/1440,delay=120/720`); kinds left out keep their defaults.
 */
const caseSlaText = z.string().transform((raw, ctx) => {
  const out: Partial<Record<CaseSlaKind, { escalate: number; default: number }>> = {};
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z_]+)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(part);
    const kind = m?.[1] as CaseSlaKind | undefined;
    if (!m || !kind || !(CASE_SLA_KINDS as readonly string[]).includes(kind)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${part.slice(0, 60)}": expected kind=escalate/default with kind one of ${CASE_SLA_KINDS.join(', ')}`,
      });
      return z.NEVER;
    }
    const escalate = Number(m[2]);
    const fallback = Number(m[3]);
    if (!(escalate > 0) || !(fallback > escalate)) {
      ctx.addIssue({
        code: 'custom',
        message: `${kind}: the default limit must come after the escalation limit`,
      });
      return z.NEVER;
    }
    out[kind] = { escalate, default: fallback };
  }
  return out;
});

const flag = z.enum(['true', 'false'], { error: 'expected true or false' }).transform((v) => v === 'true');

/** A file path (a certificate, a key, a CA bundle); whether it can be read is checked after the schema. */
const filePath = z.string().min(1).max(4096);

/** Requests per rate-limit window; 0 turns that limit off. */
const rateLimit = z.coerce.number().int().min(0).max(100_000_000);

/** Every environment key shipsync reads, with its default; `.env.example` documents each one. */
export const configSchema = z.object({
  SHIPSYNC_ENV: z.enum(PROFILES, {
    error: (issue) =>
      issue.input === undefined
        ? 'required, no default: sandbox (development against the vendor sandboxes) or production'
        : 'expected sandbox or production',
  }),
  SHIPSYNC_TEMPORAL_ADDRESS: z.string().min(3).default('127.0.0.1:7233'),
  SHIPSYNC_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  SHIPSYNC_TEMPORAL_UI_PORT: port.default(8233),
  SHIPSYNC_TASK_QUEUE_PREFIX: z
    .string()
    .regex(/^[a-z0-9-]*$/, 'expected lower-case letters, digits and dashes')
    .max(40)
    .default(''),
  SHIPSYNC_WORKER_CACHE_SIZE: z.coerce.number().int().min(0).max(100_000).default(2000),
  SHIPSYNC_WORKER_HEAP_MB: z.coerce.number().int().min(256).max(65_536).optional(),
  SHIPSYNC_ALLOCATOR: z.enum(['auto', 'jemalloc', 'system']).default('auto'),
  SHIPSYNC_JEMALLOC_PATH: z.string().min(1).optional(),
  SHIPSYNC_WORKER_WORKFLOW_SLOTS: z.coerce.number().int().min(1).max(1000).default(40),
  SHIPSYNC_WORKER_NONSTICKY_POLL_RATIO: z.coerce.number().min(0.1).max(0.9).default(0.5),
  SHIPSYNC_WORKER_METRICS_PORT: port.optional(),
  SHIPSYNC_WORKFLOW_STACK_TRACES: flag.default(false),
  SHIPSYNC_PAYLOAD_KEY: z
    .string()
    .refine(
      (v) => Buffer.from(v, 'base64').length === 32,
      'expected base64 of 32 random bytes (openssl rand -base64 32)',
    )
    .optional(),
  SHIPSYNC_PAYLOAD_KEY_ID: z.string().min(1).max(40).default('k1'),
  /**
   * The payload keyring, `id:base64` entries (comma-separated), the current key first: the current key
   * encrypts, every key decrypts. Instead of SHIPSYNC_PAYLOAD_KEY (a one-key ring), or of the file below.
   */
  SHIPSYNC_PAYLOAD_KEYS: payloadKeysText.optional(),
  /** A file holding the keyring, one `id:base64` entry per line, the current key first. */
  SHIPSYNC_PAYLOAD_KEYS_FILE: z.string().min(1).max(4096).optional(),
  /** Address and port of the codec server for the Temporal Web UI (`npm run codec-server`). */
  SHIPSYNC_CODEC_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:_[\]-]{1,255}$/, 'expected a host name or an IP address')
    .default('127.0.0.1'),
  SHIPSYNC_CODEC_PORT: port.default(8888),
  /** Browser origins of the Web UIs allowed to call the codec server (CORS), comma-separated. */
  SHIPSYNC_CODEC_CORS_ORIGINS: originList.default(['http://localhost:8233', 'http://127.0.0.1:8233']),
  /** The codec server's URL as the operators' browsers reach it; `npm run temporal` points its Web UI there. */
  SHIPSYNC_CODEC_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+[^/\s]$/, 'expected an http(s) URL without a trailing slash')
    .optional(),
  SHIPSYNC_DATA_DIR: z.string().min(1).default('.shipsync'),
  SHIPSYNC_TIME_SCALE: z.coerce.number().positive().max(100_000).default(1),
  SHIPSYNC_CLOCK_ANCHOR_REAL_MS: z.coerce.number().int().nonnegative().optional(),
  SHIPSYNC_CLOCK_ANCHOR_SIM: z.iso.datetime({ offset: true }).optional(),
  SHIPSYNC_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  SHIPSYNC_GATEWAY_PORT: port.default(8080),
  /** Address the gateway listens on: loopback by default; 0.0.0.0 (or an interface's address) to serve others. */
  SHIPSYNC_GATEWAY_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:_[\]-]{1,255}$/, 'expected a host name or an IP address')
    .default('127.0.0.1'),
  /** Base URL of the gateway for the CLI's API commands (dlq, audit); default the local gateway port. */
  SHIPSYNC_GATEWAY_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'expected an http(s) URL')
    .optional(),
  /** PEM certificate (chain) and private key of the gateway: set both and the gateway serves HTTPS. */
  SHIPSYNC_GATEWAY_TLS_CERT: filePath.optional(),
  SHIPSYNC_GATEWAY_TLS_KEY: filePath.optional(),
  /**
   * A reverse proxy in front terminates TLS: production may then serve plain HTTP, and the gateway takes the
   * client address from the proxy's X-Forwarded-For (one hop) for the per-IP rate limit.
   */
  SHIPSYNC_GATEWAY_BEHIND_PROXY: flag.default(false),
  /** Length of a rate-limit window in seconds; the limits below count requests per window. */
  SHIPSYNC_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  /** /v1 requests per window from one client address, before the token is checked (0: no limit). */
  SHIPSYNC_RATE_LIMIT_API_PER_IP: rateLimit.default(12_000),
  /** /v1 requests per window of one authenticated principal, whatever its address (0: no limit). */
  SHIPSYNC_RATE_LIMIT_API_PER_PRINCIPAL: rateLimit.default(6_000),
  /** Webhook requests per window of one source (dispatch, erp, crm), before the signature is checked. */
  SHIPSYNC_RATE_LIMIT_WEBHOOKS_PER_SOURCE: rateLimit.default(120_000),
  /** TLS to the Temporal frontend with the system's CAs (implied by any other SHIPSYNC_TEMPORAL_TLS_* key). */
  SHIPSYNC_TEMPORAL_TLS: flag.optional(),
  /** PEM CA bundle that signed the Temporal frontend's certificate (default: the system's CAs). */
  SHIPSYNC_TEMPORAL_TLS_CA: filePath.optional(),
  /** PEM client certificate and key presented to Temporal (mTLS); both or neither. */
  SHIPSYNC_TEMPORAL_TLS_CERT: filePath.optional(),
  SHIPSYNC_TEMPORAL_TLS_KEY: filePath.optional(),
  /** Name checked against the frontend's certificate, when it differs from the address's host. */
  SHIPSYNC_TEMPORAL_TLS_SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, 'expected a DNS name')
    .optional(),
  /** A Temporal Cloud API key: sent as a bearer token over TLS (TLS is turned on with it). */
  SHIPSYNC_TEMPORAL_API_KEY: z
    .string()
    .regex(/^[\x21-\x7e]{1,8192}$/, 'expected printable ASCII without spaces')
    .optional(),
  SHIPSYNC_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
    .optional(),
  /**
   * TLS to the gateway's PostgreSQL: `disable`, `require` (encrypted, certificate not checked) or
   * `verify-full` (certificate and host name checked against SHIPSYNC_DATABASE_SSL_CA or the system's CAs).
   * Unset leaves it to the URL's own `sslmode`.
   */
  SHIPSYNC_DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).optional(),
  /** PEM CA bundle for SHIPSYNC_DATABASE_SSL=verify-full. */
  SHIPSYNC_DATABASE_SSL_CA: filePath.optional(),
  /** PEM client certificate and key for PostgreSQL certificate authentication; both or neither. */
  SHIPSYNC_DATABASE_SSL_CERT: filePath.optional(),
  SHIPSYNC_DATABASE_SSL_KEY: filePath.optional(),
  SHIPSYNC_ERP_URL: url.default('http://127.0.0.1:4001'),
  SHIPSYNC_DISPATCH_URL: url.default('http://127.0.0.1:4002'),
  SHIPSYNC_CRM_URL: url.default('http://127.0.0.1:4003'),
  /** SAP communication user for basic authentication (with SHIPSYNC_ERP_PASSWORD). */
  SHIPSYNC_ERP_USERNAME: z.string().min(1).max(256).optional(),
  SHIPSYNC_ERP_PASSWORD: z.string().max(512).optional(),
  /** SAP OAuth 2.0 client credentials instead of basic authentication: token endpoint, client, secret. */
  SHIPSYNC_ERP_OAUTH_TOKEN_URL: url.optional(),
  SHIPSYNC_ERP_OAUTH_CLIENT_ID: z.string().min(1).max(256).optional(),
  SHIPSYNC_ERP_OAUTH_CLIENT_SECRET: z.string().max(512).optional(),
  /** Space-separated OAuth scopes to ask for; the token endpoint's default when unset. */
  SHIPSYNC_ERP_OAUTH_SCOPE: z.string().min(1).max(1024).optional(),
  /**
   * Seconds a worker prices with the ERP's condition records it read before reading them again; a price
   * changed in the ERP reaches new billing within this time. 0 reads them for every pricing.
   */
  SHIPSYNC_ERP_PRICE_LIST_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  /**
   * ERP requests a second this worker process starts at most (a `$batch` counts once): its share of what the
   * ERP's communication arrangement should take.
   */
  SHIPSYNC_ERP_REQUESTS_PER_SECOND: z.coerce.number().int().min(1).max(10_000).default(50),
  /**
   * The bulk window of the ERP writes (ms): milestones, commit dates, goods issues and billing requests made
   * within it share one `$batch`. A quarter second is nothing to a milestone the ERP books for the day, and
   * it gathers the writes of a busy worker, which arrive spread by the workflows' pace rather than together.
   */
  SHIPSYNC_ERP_BULK_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).default(250),
  /** Zendesk API token authentication: the agent's email and the API token (`{email}/token:{token}`). */
  SHIPSYNC_CRM_EMAIL: z.email().max(254).optional(),
  SHIPSYNC_CRM_API_TOKEN: z.string().max(512).optional(),
  /** Zendesk API requests per minute this worker process sends at most (its share of the plan's limit). */
  SHIPSYNC_CRM_REQUESTS_PER_MINUTE: z.coerce.number().int().min(10).max(100_000).default(700),
  /**
   * The bulk window of the Zendesk writes and reads (ms), on a clock grid shared by creates, updates and
   * reads: a customer notice or a case a second later costs the customer nothing, and two seconds gather the
   * calls of a worker into `create_many`/`update_many` jobs (each awaited with polls, which the jobs of one
   * window share) against Zendesk's per-minute budget, where a few milliseconds find no neighbour outside a
   * burst.
   */
  SHIPSYNC_CRM_BULK_WINDOW_MS: z.coerce.number().int().min(0).max(10_000).default(2_000),
  /**
   * Vendor bulk calls (SAP `$batch`, Zendesk `create_many`/`update_many`, Onfleet `tasks/batch`): how long
   * the first of a worker's concurrent calls of one operation waits for others (ms; 0: only those of the
   * same tick), the most items one bulk request carries (each vendor's own limit caps it), and how many bulk
   * requests of one operation may be out at once (while that many are, the next batch keeps gathering).
   */
  SHIPSYNC_BULK_WINDOW_MS: z.coerce.number().int().min(0).max(1_000).default(5),
  SHIPSYNC_BULK_MAX_ITEMS: z.coerce.number().int().min(1).max(100).default(50),
  SHIPSYNC_BULK_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(2),
  /** Dispatch API requests a second this worker process starts at most (a batch counts once): its share of Onfleet's 20 per key. */
  SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND: z.coerce.number().int().min(1).max(10_000).default(20),
  /** Secrets: no default in the schema; the sandbox profile fills them, production requires safe ones. */
  SHIPSYNC_DISPATCH_API_KEY: z.string().max(512).optional(),
  SHIPSYNC_DISPATCH_WEBHOOK_SECRET: z.string().max(512).optional(),
  SHIPSYNC_CRM_WEBHOOK_SECRET: z.string().max(512).optional(),
  SHIPSYNC_ERP_WEBHOOK_TOKEN: z.string().max(512).optional(),
  /** The principals of the gateway's API as JSON (tokens as SHA-256 hashes); or SHIPSYNC_PRINCIPALS_FILE. */
  SHIPSYNC_PRINCIPALS: principalsJson.optional(),
  /** A JSON file holding the principals, in the format of SHIPSYNC_PRINCIPALS. */
  SHIPSYNC_PRINCIPALS_FILE: z.string().min(1).max(4096).optional(),
  /** Retired (`token:role` pairs in plain text); any value, empty included, stops the process. */
  SHIPSYNC_API_TOKENS: z.string().optional(),
  /** The bearer token this process presents to the gateway's API (CLI dlq/audit, the CRM sandbox's customers). */
  SHIPSYNC_API_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{1,512}$/, 'expected printable ASCII without spaces')
    .optional(),
  SHIPSYNC_RELEASE_INTERVAL_MINUTES: z.coerce.number().positive().default(15),
  /** Cron expression (UTC) of the nightly reconciliation Schedule; each run reconciles the day before. */
  SHIPSYNC_RECONCILE_CRON: z
    .string()
    .trim()
    .regex(
      /^(\S+\s+){4}\S+$/,
      'expected a cron expression of five fields (minute hour day-of-month month day-of-week), e.g. 30 2 * * *',
    )
    .default('30 2 * * *'),
  SHIPSYNC_MAX_DELIVERY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(2),
  SHIPSYNC_APPROVAL_THRESHOLD: threshold.default(150),
  /** Accessorial total in USD above which two different finance principals must approve (four-eyes). */
  SHIPSYNC_FOUR_EYES_THRESHOLD: threshold.default(500),
  /** SLAs of the waits that need a person, in simulated minutes: escalate at the first, default at the second. */
  SHIPSYNC_APPROVAL_SLA_MINUTES: z.coerce.number().positive().default(240),
  SHIPSYNC_APPROVAL_DEFAULT_MINUTES: z.coerce.number().positive().default(1440),
  SHIPSYNC_MISSING_POD_SLA_MINUTES: z.coerce.number().positive().default(240),
  SHIPSYNC_MISSING_POD_DEFAULT_MINUTES: z.coerce.number().positive().default(1440),
  SHIPSYNC_PARKED_SLA_MINUTES: z.coerce.number().positive().default(240),
  SHIPSYNC_PARKED_REPEAT_MINUTES: z.coerce.number().positive().default(1440),
  /** Resolution SLAs of open cases per kind, `kind=escalate/default` in simulated minutes, comma-separated. */
  SHIPSYNC_CASE_SLA_MINUTES: caseSlaText.default({}),
  /** An ETA moving more than this many simulated minutes from the announced plan posts a revised plan. */
  SHIPSYNC_ETA_DRIFT_MINUTES: z.coerce.number().positive().default(30),
  /** Days the gateway keeps audit rows; 0 keeps them for ever. */
  SHIPSYNC_AUDIT_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100 * 366)
    .default(400),
  /** Days the gateway keeps telemetry samples (checked hourly); 0 keeps them for ever. */
  SHIPSYNC_TELEMETRY_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100 * 366)
    .default(30),
  /** Days the gateway keeps replayed and discarded dead letters after they were settled; open ones stay. */
  SHIPSYNC_DEAD_LETTER_RETENTION_DAYS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100 * 366)
    .default(90),
  /** Minutes after a region's planning cutoff before an unassigned shipment opens an escalation case. */
  SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES: z.coerce
    .number()
    .positive()
    .max(24 * 60)
    .default(60),
  /** Real seconds between the gateway's sweeps that project running shipments into the ODS; 0 turns it off. */
  SHIPSYNC_ODS_SWEEP_SECONDS: z.coerce.number().min(0).max(3600).default(5),
  /** Base URL of the Temporal Web UI the ops console links shipments to; default http://127.0.0.1:<UI port>. */
  SHIPSYNC_TEMPORAL_UI_URL: z
    .string()
    .regex(/^https?:\/\/[^\s]+$/, 'expected an http(s) URL')
    .optional(),
  /** Where the dispatch optimiser's benchmark finds the Solomon VRPTW instances. */
  SHIPSYNC_VRPTW_DIR: z.string().min(1).optional(),
});

/** shipsync's parsed configuration. */
export type Config = z.infer<typeof configSchema>;

/** Raised when the environment holds an invalid value; names the key and the reason. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly issues: { key: string; reason: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.key}: ${i.reason}`).join('; ')}`);
    this.name = 'ConfigError';
  }

  /** One line per offending key, as a process prints them before it exits. */
  lines(): string[] {
    return this.issues.map((i) => `${i.key}: ${i.reason}`);
  }
}

/**
 * Which process loads the configuration decides which secrets production requires: the gateway checks
 * webhooks and API tokens, the worker calls the vendors, the CLI's operator commands talk to Temporal, and
 * the CLI's API commands (`dlq`, `audit`) only present a principal's token, the codec server decrypts for
 * principals. `all` requires every one.
 */
export type ProcessKind = 'gateway' | 'worker' | 'cli' | 'api-client' | 'codec-server' | 'all';

type Requirement = SecretKey | 'SHIPSYNC_PAYLOAD_KEY' | 'principals';
const REQUIRED: Record<ProcessKind, readonly Requirement[]> = {
  gateway: [
    'SHIPSYNC_PAYLOAD_KEY',
    'principals',
    'SHIPSYNC_DISPATCH_WEBHOOK_SECRET',
    'SHIPSYNC_CRM_WEBHOOK_SECRET',
    'SHIPSYNC_ERP_WEBHOOK_TOKEN',
  ],
  worker: ['SHIPSYNC_PAYLOAD_KEY', 'SHIPSYNC_DISPATCH_API_KEY'],
  cli: ['SHIPSYNC_PAYLOAD_KEY'],
  'api-client': [],
  'codec-server': ['SHIPSYNC_PAYLOAD_KEY', 'principals'],
  all: ['SHIPSYNC_PAYLOAD_KEY', 'principals', ...SECRET_KEYS],
};

const SANDBOX_VALUES = new Set<string>([
  ...Object.values(SANDBOX_SECRETS),
  ...SANDBOX_PRINCIPALS.map((p) => p.token),
]);
const SANDBOX_HASHES = new Set(SANDBOX_PRINCIPALS.map((p) => tokenHash(p.token)));
/** The placeholder hash of deploy/compose.env.example. */
const PLACEHOLDER_HASH = '0'.repeat(64);

/** Why a secret is unfit for production, or undefined when it is fit. Never repeats the value. */
export function unsafeSecret(value: string | undefined): string | undefined {
  if (value === undefined) return 'missing';
  if (value === '') return 'empty';
  if (SANDBOX_VALUES.has(value)) return 'equals a sandbox default, which is published';
  if (/^replace-/i.test(value)) return 'is a placeholder of deploy/compose.env.example';
  if (value.length < MIN_SECRET_LENGTH)
    return `shorter than ${MIN_SECRET_LENGTH} characters (openssl rand -base64 32 makes one)`;
  return undefined;
}

/** Reads SHIPSYNC_PRINCIPALS_FILE into SHIPSYNC_PRINCIPALS; an issue when it cannot. */
function principalsFromFile(path: string): { value?: PrincipalConfig[]; reason?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { reason: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
  }
  const parsed = principalsJson.safeParse(text);
  return parsed.success
    ? { value: parsed.data }
    : { reason: `${path}: ${parsed.error.issues[0]?.message ?? 'invalid principals'}` };
}

/** Reads SHIPSYNC_PAYLOAD_KEYS_FILE; an issue when it cannot. */
function payloadKeysFromFile(path: string): { value?: PayloadKeyConfig[]; reason?: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { reason: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
  }
  const parsed = parsePayloadKeys(text);
  return parsed.value
    ? { value: parsed.value }
    : { reason: `${path}: ${parsed.reason ?? 'invalid keyring'}` };
}

/** Both profiles: certificate and key paths readable, and given in pairs. */
function transportIssues(config: Config): { key: string; reason: string }[] {
  const issues: { key: string; reason: string }[] = [];
  for (const key of FILE_KEYS) {
    const path = config[key];
    if (path === undefined) continue;
    try {
      accessSync(path, fsConstants.R_OK);
    } catch (err) {
      issues.push({ key, reason: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    }
  }
  for (const [cert, key] of FILE_PAIRS) {
    if (config[cert] !== undefined && config[key] === undefined)
      issues.push({ key, reason: `missing: ${cert} is set, and a certificate needs its private key` });
    else if (config[key] !== undefined && config[cert] === undefined)
      issues.push({ key: cert, reason: `missing: ${key} is set, and a private key needs its certificate` });
  }
  for (const group of CREDENTIAL_GROUPS) {
    const set = group.filter((k) => config[k] !== undefined);
    if (set.length === 0 || set.length === group.length) continue;
    for (const k of group.filter((g) => config[g] === undefined))
      issues.push({
        key: k,
        reason: `missing: ${set.join(' and ')} ${set.length > 1 ? 'need' : 'needs'} it`,
      });
  }
  if (config.SHIPSYNC_ERP_USERNAME !== undefined && config.SHIPSYNC_ERP_OAUTH_CLIENT_ID !== undefined)
    issues.push({
      key: 'SHIPSYNC_ERP_OAUTH_CLIENT_ID',
      reason: 'set basic authentication (SHIPSYNC_ERP_USERNAME) or OAuth client credentials, not both',
    });
  if (config.SHIPSYNC_ERP_OAUTH_SCOPE !== undefined && config.SHIPSYNC_ERP_OAUTH_CLIENT_ID === undefined)
    issues.push({
      key: 'SHIPSYNC_ERP_OAUTH_SCOPE',
      reason: 'needs the SHIPSYNC_ERP_OAUTH_* client credentials',
    });
  const temporalTlsKeys = [
    'SHIPSYNC_TEMPORAL_TLS_CA',
    'SHIPSYNC_TEMPORAL_TLS_CERT',
    'SHIPSYNC_TEMPORAL_TLS_KEY',
    'SHIPSYNC_TEMPORAL_TLS_SERVER_NAME',
    'SHIPSYNC_TEMPORAL_API_KEY',
  ] as const;
  const tlsImplied = temporalTlsKeys.filter((k) => config[k] !== undefined);
  if (config.SHIPSYNC_TEMPORAL_TLS === false && tlsImplied.length > 0)
    issues.push({
      key: 'SHIPSYNC_TEMPORAL_TLS',
      reason: `false, but ${tlsImplied.join(', ')} ${tlsImplied.length > 1 ? 'need' : 'needs'} TLS: unset it`,
    });
  const dbSsl = config.SHIPSYNC_DATABASE_SSL;
  if (config.SHIPSYNC_DATABASE_SSL_CA !== undefined && dbSsl !== 'verify-full')
    issues.push({
      key: 'SHIPSYNC_DATABASE_SSL',
      reason: 'set it to verify-full: SHIPSYNC_DATABASE_SSL_CA is only used to verify the server',
    });
  else if (config.SHIPSYNC_DATABASE_SSL_CERT !== undefined && (dbSsl === undefined || dbSsl === 'disable'))
    issues.push({
      key: 'SHIPSYNC_DATABASE_SSL',
      reason: 'set it to require or verify-full: a client certificate is sent only over TLS',
    });
  else if (dbSsl !== undefined && /[?&]sslmode=/.test(config.SHIPSYNC_DATABASE_URL ?? ''))
    issues.push({
      key: 'SHIPSYNC_DATABASE_SSL',
      reason: 'SHIPSYNC_DATABASE_URL has its own sslmode, which would win: set one of them',
    });
  return issues;
}

/** The profile's rules after the schema: sandbox defaults, or production's refusals, one issue per key. */
function applyProfile(
  config: Config,
  raw: Record<string, string | undefined>,
  kind: ProcessKind,
): { key: string; reason: string }[] {
  const issues: { key: string; reason: string }[] = [];
  if (raw.SHIPSYNC_API_TOKENS !== undefined) {
    issues.push({
      key: 'SHIPSYNC_API_TOKENS',
      reason:
        'retired: API tokens are principals now (SHIPSYNC_PRINCIPALS or SHIPSYNC_PRINCIPALS_FILE, tokens as SHA-256 hashes; docs/security.md)',
    });
  }
  if (config.SHIPSYNC_FOUR_EYES_THRESHOLD < config.SHIPSYNC_APPROVAL_THRESHOLD) {
    issues.push({
      key: 'SHIPSYNC_FOUR_EYES_THRESHOLD',
      reason: `must be at least SHIPSYNC_APPROVAL_THRESHOLD (${config.SHIPSYNC_APPROVAL_THRESHOLD})`,
    });
  }
  if (raw.SHIPSYNC_PRINCIPALS !== undefined && config.SHIPSYNC_PRINCIPALS_FILE !== undefined) {
    issues.push({ key: 'SHIPSYNC_PRINCIPALS_FILE', reason: 'set SHIPSYNC_PRINCIPALS or this key, not both' });
  } else if (config.SHIPSYNC_PRINCIPALS_FILE !== undefined) {
    const loaded = principalsFromFile(config.SHIPSYNC_PRINCIPALS_FILE);
    if (loaded.reason) issues.push({ key: 'SHIPSYNC_PRINCIPALS_FILE', reason: loaded.reason });
    else config.SHIPSYNC_PRINCIPALS = loaded.value;
  }
  const keySources = (
    ['SHIPSYNC_PAYLOAD_KEY', 'SHIPSYNC_PAYLOAD_KEYS', 'SHIPSYNC_PAYLOAD_KEYS_FILE'] as const
  ).filter((k) => raw[k] !== undefined && raw[k] !== '');
  if (keySources.length > 1) {
    issues.push({
      key: keySources[1]!,
      reason: `set one of SHIPSYNC_PAYLOAD_KEY, SHIPSYNC_PAYLOAD_KEYS, SHIPSYNC_PAYLOAD_KEYS_FILE, not ${keySources.join(' and ')}`,
    });
  } else if (config.SHIPSYNC_PAYLOAD_KEYS_FILE !== undefined) {
    const loaded = payloadKeysFromFile(config.SHIPSYNC_PAYLOAD_KEYS_FILE);
    if (loaded.reason) issues.push({ key: 'SHIPSYNC_PAYLOAD_KEYS_FILE', reason: loaded.reason });
    else config.SHIPSYNC_PAYLOAD_KEYS = loaded.value;
  }
  for (const key of NEVER_EMPTY) {
    if (raw[key] === '' && key !== 'SHIPSYNC_API_TOKENS')
      issues.push({ key, reason: 'empty: unset it or give it a value' });
  }
  issues.push(...transportIssues(config));

  if (config.SHIPSYNC_ENV === 'sandbox') {
    for (const key of SECRET_KEYS) {
      const value = config[key];
      if (value === undefined && raw[key] === undefined) config[key] = SANDBOX_SECRETS[key];
      else if (value !== undefined && value.length < SANDBOX_MIN_LENGTH[key])
        issues.push({ key, reason: `shorter than ${SANDBOX_MIN_LENGTH[key]} characters` });
    }
    const principalsSet = raw.SHIPSYNC_PRINCIPALS !== undefined || raw.SHIPSYNC_PRINCIPALS_FILE !== undefined;
    if (!principalsSet) {
      config.SHIPSYNC_PRINCIPALS = SANDBOX_PRINCIPALS.map((p) => ({
        id: p.id,
        kind: 'person',
        roles: [p.role],
        tokenSha256: [tokenHash(p.token)],
      }));
    }
    return issues;
  }

  if (
    SERVES_GATEWAY.has(kind) &&
    config.SHIPSYNC_GATEWAY_TLS_CERT === undefined &&
    config.SHIPSYNC_GATEWAY_TLS_KEY === undefined &&
    !config.SHIPSYNC_GATEWAY_BEHIND_PROXY
  ) {
    issues.push({
      key: 'SHIPSYNC_GATEWAY_TLS_CERT',
      reason:
        'missing: production serves HTTPS (set it and SHIPSYNC_GATEWAY_TLS_KEY), or set SHIPSYNC_GATEWAY_BEHIND_PROXY=true when a proxy in front terminates TLS',
    });
  }
  const required = new Set(REQUIRED[kind]);
  for (const key of SECRET_KEYS) {
    if (raw[key] === '') continue;
    if (raw[key] === undefined && !required.has(key)) continue;
    const reason = unsafeSecret(raw[key]);
    if (reason) issues.push({ key, reason });
  }
  // Vendor secrets are optional (a deployment may reach a vendor another way), but when set they must be
  // real: the OAuth client secret and the Zendesk API token like any secret; the SAP password not empty.
  for (const key of ['SHIPSYNC_ERP_OAUTH_CLIENT_SECRET', 'SHIPSYNC_CRM_API_TOKEN'] as const) {
    if (raw[key] === undefined || raw[key] === '') continue;
    const reason = unsafeSecret(raw[key]);
    if (reason) issues.push({ key, reason });
  }
  if (raw.SHIPSYNC_API_TOKEN !== undefined && raw.SHIPSYNC_API_TOKEN !== '') {
    const reason = unsafeSecret(raw.SHIPSYNC_API_TOKEN);
    if (reason) issues.push({ key: 'SHIPSYNC_API_TOKEN', reason });
  }
  const ringSet = raw.SHIPSYNC_PAYLOAD_KEYS !== undefined || raw.SHIPSYNC_PAYLOAD_KEYS_FILE !== undefined;
  if (raw.SHIPSYNC_PAYLOAD_KEY === undefined && !ringSet && required.has('SHIPSYNC_PAYLOAD_KEY')) {
    issues.push({
      key: 'SHIPSYNC_PAYLOAD_KEY',
      reason: 'missing: production encrypts every Temporal payload (openssl rand -base64 32)',
    });
  } else if (raw.SHIPSYNC_PAYLOAD_KEY) {
    const reason = unsafePayloadKey(raw.SHIPSYNC_PAYLOAD_KEY);
    if (reason) issues.push({ key: 'SHIPSYNC_PAYLOAD_KEY', reason });
  }
  // Every key of the ring decrypts, so every one must be fit for production, not only the current one.
  const ringKey =
    config.SHIPSYNC_PAYLOAD_KEYS_FILE !== undefined ? 'SHIPSYNC_PAYLOAD_KEYS_FILE' : 'SHIPSYNC_PAYLOAD_KEYS';
  const unsafeKeys = (config.SHIPSYNC_PAYLOAD_KEYS ?? []).flatMap((k) => {
    const reason = unsafePayloadKey(k.key);
    return reason ? [`key "${k.id}" ${reason}`] : [];
  });
  if (unsafeKeys.length > 0) issues.push({ key: ringKey, reason: unsafeKeys.join('; ') });
  const principals = config.SHIPSYNC_PRINCIPALS;
  const principalsKey =
    config.SHIPSYNC_PRINCIPALS_FILE !== undefined ? 'SHIPSYNC_PRINCIPALS_FILE' : 'SHIPSYNC_PRINCIPALS';
  if (principals === undefined) {
    if (required.has('principals') && !issues.some((i) => i.key.startsWith('SHIPSYNC_PRINCIPALS')))
      issues.push({
        key: 'SHIPSYNC_PRINCIPALS',
        reason: 'missing: set it or SHIPSYNC_PRINCIPALS_FILE to the API principals (docs/security.md)',
      });
  } else {
    const sandboxIds = principals
      .filter((p) => p.tokenSha256.some((h) => SANDBOX_HASHES.has(h)))
      .map((p) => p.id);
    const placeholders = principals.filter((p) => p.tokenSha256.includes(PLACEHOLDER_HASH)).map((p) => p.id);
    if (sandboxIds.length > 0)
      issues.push({
        key: principalsKey,
        reason: `the token of ${sandboxIds.join(', ')} is a sandbox development token, which is published`,
      });
    else if (placeholders.length > 0)
      issues.push({
        key: principalsKey,
        reason: `${placeholders.join(', ')} has the placeholder hash of deploy/compose.env.example`,
      });
  }
  return issues;
}

/**
 * Parses the configuration once per entry point; pass the result down instead of reading env again. An
 * empty value counts as unset, except for secrets and tokens, where it is refused. `kind` names the process,
 * which decides the secrets production requires.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  opts: { process?: ProcessKind } = {},
): Config {
  const raw = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k.startsWith('SHIPSYNC_') && v !== undefined),
  );
  // Key by key, so one start names every offending key, the profile's refusals included.
  const issues: { key: string; reason: string }[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(configSchema.shape)) {
    const value = raw[key] === '' ? undefined : raw[key];
    const parsed = (schema as z.ZodType).safeParse(value);
    if (parsed.success) values[key] = parsed.data;
    else issues.push({ key, reason: parsed.error.issues[0]?.message ?? 'invalid' });
  }
  const config = values as Config;
  if (values.SHIPSYNC_ENV !== undefined) {
    const known = new Set(issues.map((i) => i.key));
    for (const issue of applyProfile(config, raw, opts.process ?? 'all')) {
      if (known.has(issue.key)) continue;
      known.add(issue.key);
      issues.push(issue);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** A secret the process needs; throws when it is not configured (production sets only what a process needs). */
export function secret(config: Config, key: SecretKey): string {
  const value = config[key];
  if (!value) throw new ConfigError([{ key, reason: 'missing: this process needs it' }]);
  return value;
}

/** The sandbox development token of a role: of the first principal holding it, or of the `nth` (from 0). */
export function sandboxToken(role: Role, nth = 0): string {
  const p = SANDBOX_PRINCIPALS.filter((x) => x.role === role)[nth];
  if (!p) throw new ConfigError([{ key: 'SHIPSYNC_ENV', reason: `no sandbox principal holds ${role}` }]);
  return p.token;
}

/**
 * The bearer token a client process presents to the gateway: SHIPSYNC_API_TOKEN when set, else (sandbox
 * only) the development token of `role`. Production without SHIPSYNC_API_TOKEN has none.
 */
export function clientToken(config: Config, role: Role): string {
  if (config.SHIPSYNC_API_TOKEN) return config.SHIPSYNC_API_TOKEN;
  if (config.SHIPSYNC_ENV === 'sandbox') return sandboxToken(role);
  throw new ConfigError([
    { key: 'SHIPSYNC_API_TOKEN', reason: `missing: the token of a principal with the ${role} role` },
  ]);
}

/**
 * For tools that only make sense against the sandboxes (demo, stack, chaos, bench, the sandboxes
 * themselves): selects the sandbox profile for this process and the processes it starts, and refuses to run
 * under any other profile.
 */
export function useSandboxProfile(tool: string, env: NodeJS.ProcessEnv = process.env): void {
  const current = env.SHIPSYNC_ENV;
  if (current !== undefined && current !== '' && current !== 'sandbox') {
    throw new ConfigError([
      { key: 'SHIPSYNC_ENV', reason: `${tool} runs only in the sandbox profile, not in ${current}` },
    ]);
  }
  env.SHIPSYNC_ENV = 'sandbox';
}
