import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const url = z.url();

/** Roles a bearer token can carry on the gateway's API. */
export const ROLES = ['dispatcher', 'agent', 'finance', 'admin'] as const;
/** A gateway API role. */
export type Role = (typeof ROLES)[number];

const tokenList = z.string().transform((raw, ctx) => {
  const tokens: Record<string, Role> = {};
  for (const pair of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [token, role] = pair.split(':');
    if (!token || !role || !(ROLES as readonly string[]).includes(role)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected token:role pairs with role in ${ROLES.join('|')}, got "${pair}"`,
      });
      return z.NEVER;
    }
    tokens[token] = role as Role;
  }
  return tokens;
});

/** Every environment key shipsync reads, with its default; `.env.example` documents each one. */
export const configSchema = z.object({
  SHIPSYNC_TEMPORAL_ADDRESS: z.string().min(3).default('127.0.0.1:7233'),
  SHIPSYNC_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  SHIPSYNC_TEMPORAL_UI_PORT: port.default(8233),
  SHIPSYNC_TASK_QUEUE_PREFIX: z
    .string()
    .regex(/^[a-z0-9-]*$/, 'expected lower-case letters, digits and dashes')
    .max(40)
    .default(''),
  SHIPSYNC_WORKER_CACHE_SIZE: z.coerce.number().int().min(0).max(100_000).default(2000),
  SHIPSYNC_WORKER_WORKFLOW_SLOTS: z.coerce.number().int().min(1).max(1000).default(40),
  SHIPSYNC_WORKER_METRICS_PORT: port.optional(),
  SHIPSYNC_PAYLOAD_KEY: z
    .string()
    .refine(
      (v) => Buffer.from(v, 'base64').length === 32,
      'expected base64 of 32 random bytes (openssl rand -base64 32)',
    )
    .optional(),
  SHIPSYNC_PAYLOAD_KEY_ID: z.string().min(1).max(40).default('k1'),
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
  SHIPSYNC_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// URL')
    .optional(),
  SHIPSYNC_ERP_URL: url.default('http://127.0.0.1:4001'),
  SHIPSYNC_DISPATCH_URL: url.default('http://127.0.0.1:4002'),
  SHIPSYNC_CRM_URL: url.default('http://127.0.0.1:4003'),
  /** Zendesk API requests per minute this worker process sends at most (its share of the plan's limit). */
  SHIPSYNC_CRM_REQUESTS_PER_MINUTE: z.coerce.number().int().min(10).max(100_000).default(700),
  SHIPSYNC_DISPATCH_API_KEY: z.string().min(1).default('sandbox-dispatch-key'),
  SHIPSYNC_DISPATCH_WEBHOOK_SECRET: z.string().min(16).default('sandbox-dispatch-webhook-secret'),
  SHIPSYNC_CRM_WEBHOOK_SECRET: z.string().min(16).default('sandbox-crm-webhook-secret'),
  SHIPSYNC_ERP_WEBHOOK_TOKEN: z.string().min(8).default('sandbox-erp-push-token'),
  SHIPSYNC_API_TOKENS: tokenList.default({
    'dev-dispatcher': 'dispatcher',
    'dev-agent': 'agent',
    'dev-finance': 'finance',
    'dev-admin': 'admin',
  }),
  SHIPSYNC_RELEASE_INTERVAL_MINUTES: z.coerce.number().positive().default(15),
  SHIPSYNC_MAX_DELIVERY_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(2),
  SHIPSYNC_APPROVAL_THRESHOLD: z.coerce.number().nonnegative().default(150),
  /** Minutes after a region's planning cutoff before an unassigned shipment opens an escalation case. */
  SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES: z.coerce
    .number()
    .positive()
    .max(24 * 60)
    .default(60),
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
}

/** Parses the configuration once per entry point; pass the result down instead of reading env again. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => ({ key: String(issue.path[0] ?? '(root)'), reason: issue.message })),
  );
}

/** The first configured API token that carries `role` (e.g. the agent token simulated customers use). */
export function apiTokenFor(tokens: Config['SHIPSYNC_API_TOKENS'], role: Role): string {
  const token = Object.entries(tokens).find(([, r]) => r === role)?.[0];
  if (!token)
    throw new ConfigError([{ key: 'SHIPSYNC_API_TOKENS', reason: `no token with the ${role} role` }]);
  return token;
}
