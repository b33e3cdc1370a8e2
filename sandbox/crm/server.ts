import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { z } from 'zod';
import { EffectLog } from '../common/effects.js';
import { FaultInjector, type FaultSettings } from '../common/faults.js';
import { WebhookSender } from '../common/webhooks.js';
import {
  KEY_METADATA_KEY,
  PLAN_METADATA_KEY,
  SimulatedCustomers,
  parsePlanMarker,
  type RescheduleRecord,
} from './customers.js';
import { JobQueue, jobStatusJson } from './jobs.js';
import { buildUrl, paginate, parsePageQuery } from './pagination.js';
import { MinuteBudget } from './rate-limit.js';
import { TicketCreate, TicketUpdate, isObject, problemsOf } from './schemas.js';
import { searchTickets } from './search.js';
import {
  TicketStore,
  auditJson,
  commentJson,
  ticketJson,
  type ChangeResult,
  type CommentRecord,
  type TicketRecord,
} from './store.js';
import {
  type FieldProblem,
  badRequest,
  rateLimited,
  recordInvalid,
  recordNotFound,
  sendError,
  zendeskFaultResponder,
  zendeskTime,
} from './zendesk.js';

/** Idempotency keys on ticket create are remembered for two hours, as Zendesk documents. */
export const IDEMPOTENCY_TTL_MS = 2 * 3600 * 1000;
/** Tag that marks a ticket as a shipsync exception case. */
export const CASE_TAG = 'shipsync_case';
/** Prefix of the tag that names a case's exception kind (`shipsync_kind_failed_attempt`). */
export const KIND_TAG_PREFIX = 'shipsync_kind_';
/** Most tickets one `create_many`, `update_many` or `show_many` request may name, as on Zendesk. */
export const MAX_BULK_TICKETS = 100;

const Options = z
  .object({
    port: z.number().int().min(0).max(65535).default(0),
    host: z.string().min(1).default('127.0.0.1'),
    seed: z.number().int().default(1),
    rateLimitPerMinute: z.number().int().positive().default(700),
    jobDelayMs: z.number().int().min(0).max(3_600_000).default(0),
    webhookUrl: z.url().optional(),
    webhookSecret: z.string().min(1).optional(),
    customers: z
      .object({
        rescheduleRate: z.number().min(0).max(1),
        rescheduleApiUrl: z.url().optional(),
        apiToken: z.string().min(1).optional(),
        mode: z.enum(['api', 'webhook']),
        maxPerShipment: z.number().int().min(1).max(20).default(1),
      })
      .optional(),
  })
  .superRefine((o, ctx) => {
    if (o.customers?.mode === 'api' && !o.customers.rescheduleApiUrl) {
      ctx.addIssue({
        code: 'custom',
        path: ['customers', 'rescheduleApiUrl'],
        message: 'required in api mode',
      });
    }
    if (o.customers?.mode === 'webhook' && (!o.webhookUrl || !o.webhookSecret)) {
      ctx.addIssue({
        code: 'custom',
        path: ['webhookUrl'],
        message: 'webhookUrl and webhookSecret are required in webhook mode',
      });
    }
  });

/** Options of the CRM sandbox. */
export interface CrmSandboxOptions {
  /** TCP port; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Seed of every random decision (faults, simulated customers). */
  seed?: number;
  faults?: Partial<FaultSettings>;
  /** Requests per minute before 429; 700 is the limit of Zendesk Enterprise plans. */
  rateLimitPerMinute?: number;
  /** How long a bulk job (`create_many`, `update_many`) stays queued before it runs; 0: right after its response. */
  jobDelayMs?: number;
  /** Where Zendesk-style webhooks go. */
  webhookUrl?: string;
  /** Signing secret of those webhooks. */
  webhookSecret?: string;
  /** Simulated customers who ask for another slot after an ETA notice. */
  customers?: {
    rescheduleRate: number;
    rescheduleApiUrl?: string;
    apiToken?: string;
    mode: 'api' | 'webhook';
    maxPerShipment?: number;
  };
  /** Clock for idempotency expiry, rate-limit windows and timestamps (tests move it). */
  clock?: () => number;
  /** A logger for request logs; silent when absent. */
  logger?: FastifyBaseLogger;
  /**
   * The agent email and API token the API accepts (`{email}/token:{token}`); any credential when absent, as
   * before. A wrong one gets Zendesk's 401 `Couldn't authenticate you`.
   */
  credentials?: { email: string; token: string };
}

/** A customer notice recorded by the sandbox: a public comment on a ticket. */
export interface NoticeRecord {
  ticketId: number;
  commentId: number;
  externalId: string | null;
  key: string;
  body: string;
  plan?: { eta: string; window: { start: string; end: string } };
  createdAt: string;
}

/** A running CRM sandbox. */
export interface CrmSandbox {
  url: string;
  port: number;
  app: FastifyInstance;
  effects: EffectLog;
  faults: FaultInjector;
  webhooks: WebhookSender;
  store: TicketStore;
  notices: NoticeRecord[];
  reschedules: RescheduleRecord[];
  /** The background jobs of `create_many` and `update_many` (`jobs.delayMs` may be changed while running). */
  jobs: JobQueue;
  /** Waits for simulated-customer calls, queued webhooks and queued bulk jobs to finish. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

interface IdempotentResponse {
  hash: string;
  status: number;
  body: unknown;
  createdAt: number;
}

/** Canonical JSON (sorted keys) so two equal bodies hash alike whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** Any non-empty Basic (`email/token:apitoken`) or Bearer credentials pass; nothing is checked further. */
/** True when the header is Basic `{email}/token:{token}` of exactly these credentials. */
export function matchesCredentials(
  header: string | undefined,
  credentials: { email: string; token: string },
): boolean {
  const m = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!m?.[1]) return false;
  const given = createHash('sha256').update(Buffer.from(m[1], 'base64').toString('utf8')).digest();
  const expected = createHash('sha256').update(`${credentials.email}/token:${credentials.token}`).digest();
  return timingSafeEqual(given, expected);
}

export function hasCredentials(header: string | undefined): boolean {
  if (!header) return false;
  const match = /^(Basic|Bearer)\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1] || !match[2]) return false;
  if (match[1].toLowerCase() === 'bearer') return true;
  const decoded = Buffer.from(match[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 && colon < decoded.length - 1;
}

/** The agent `users/me` shows. */
function sandboxAgent(email = 'shipsync@sandbox.zendesk.test') {
  return { id: 900001, name: 'shipsync integration', email, role: 'agent', active: true, verified: true };
}

function ticketIdOf(raw: string): number | undefined {
  const m = /^(\d{1,15})(\.json)?$/.exec(raw);
  return m?.[1] ? Number(m[1]) : undefined;
}

function singleQuery(query: unknown, key: string): string | undefined | null {
  const v = isObject(query) ? query[key] : undefined;
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : null;
}

/** Starts the Zendesk-dialect CRM sandbox. */
export async function startCrmSandbox(options: CrmSandboxOptions = {}): Promise<CrmSandbox> {
  const parsed = Options.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid CRM sandbox option ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
  }
  const opts = parsed.data;
  const now = options.clock ?? Date.now;
  const app = Fastify(options.logger ? { loggerInstance: options.logger } : { logger: false });
  const faults = new FaultInjector(options.faults ?? {}, opts.seed);
  const effects = new EffectLog();
  const webhooks = new WebhookSender(faults);
  const store = new TicketStore(now);
  const budget = new MinuteBudget(opts.rateLimitPerMinute, now);
  const idempotency = new Map<string, IdempotentResponse>();
  const notices: NoticeRecord[] = [];
  const jobs = new JobQueue(now, opts.seed, opts.jobDelayMs);
  let baseUrl = '';

  const emitWebhook = (payload: Record<string, unknown>) => {
    if (!opts.webhookUrl || !opts.webhookSecret) return;
    const body = JSON.stringify(payload);
    const timestamp = zendeskTime(now());
    const signature = createHmac('sha256', opts.webhookSecret)
      .update(timestamp + body)
      .digest('base64');
    webhooks.send({
      url: opts.webhookUrl,
      body,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'Zendesk Webhook',
        'x-zendesk-account-id': '1',
        'x-zendesk-webhook-id': 'shipsync-crm-sandbox',
        'x-zendesk-webhook-invocation-id': randomUUID(),
        'x-zendesk-webhook-signature': signature,
        'x-zendesk-webhook-signature-timestamp': timestamp,
      },
    });
  };

  const customers = opts.customers
    ? new SimulatedCustomers({ settings: opts.customers, seed: opts.seed, store, now, emitWebhook })
    : undefined;

  const isApi = (url: string) => url.startsWith('/api/v2/') || url === '/api/v2';
  // The fault hook counts every API request first, so one the faults, the credentials check or the rate
  // limit refuse counts too.
  faults.install(app, zendeskFaultResponder, isApi);
  app.addHook('onRequest', async (req, reply) => {
    if (!isApi(req.url)) return;
    const authorization = req.headers.authorization;
    if (
      options.credentials
        ? !matchesCredentials(authorization, options.credentials)
        : !hasCredentials(authorization)
    ) {
      return sendError(reply.header('www-authenticate', 'Basic realm="Web Password"'), 401, {
        error: "Couldn't authenticate you",
      });
    }
    const take = budget.take();
    if (!take.ok) return rateLimited(reply, take.retryAfterSeconds);
    reply.header('x-rate-limit', String(take.limit)).header('x-rate-limit-remaining', String(take.remaining));
  });

  app.setNotFoundHandler((_req, reply) =>
    sendError(reply, 404, { error: 'InvalidEndpoint', description: 'Not found' }),
  );
  app.setErrorHandler((err: { statusCode?: number; message?: string; code?: string }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const error =
        status === 413 ? 'RequestTooLarge' : status === 415 ? 'UnsupportedMediaType' : 'InvalidValue';
      return sendError(reply, status, { error, description: err.message ?? 'bad request' });
    }
    req.log.error({ err }, 'crm sandbox failure');
    return sendError(reply, 500, { error: 'InternalError', description: 'Something went wrong' });
  });

  const recordChange = (change: ChangeResult, key: string | undefined, created: boolean) => {
    const { ticket, comment } = change;
    const kindTag = ticket.tags.find((t) => t.startsWith(KIND_TAG_PREFIX));
    const detail = {
      externalId: ticket.externalId,
      case: ticket.tags.includes(CASE_TAG),
      kind: kindTag?.slice(KIND_TAG_PREFIX.length),
    };
    if (created) {
      // Without an Idempotency-Key (always so in create_many), the key the ticket's audit metadata carries.
      const keyed = key ?? metadataKey(comment?.custom);
      effects.record('ticket_created', keyed ?? `ticket-${ticket.id}`, String(ticket.id), detail);
    }
    if (change.solvedNow)
      effects.record('ticket_solved', key ?? `ticket-${ticket.id}`, String(ticket.id), detail);
    if (comment?.public) recordNotice(ticket, comment);
  };

  const metadataKey = (custom: Record<string, unknown> | undefined): string | undefined => {
    const stored = custom?.[KEY_METADATA_KEY];
    return typeof stored === 'string' && stored ? stored : undefined;
  };

  const recordNotice = (ticket: TicketRecord, comment: CommentRecord) => {
    const stored = comment.custom[KEY_METADATA_KEY];
    const key = typeof stored === 'string' && stored ? stored : `comment-${comment.id}`;
    const marker = comment.custom[PLAN_METADATA_KEY];
    const plan = parsePlanMarker(typeof marker === 'string' ? marker : comment.body);
    effects.record('notification', key, String(ticket.id), {
      externalId: ticket.externalId,
      commentId: comment.id,
    });
    notices.push({
      ticketId: ticket.id,
      commentId: comment.id,
      externalId: ticket.externalId,
      key,
      body: comment.body,
      ...(plan ? { plan } : {}),
      createdAt: zendeskTime(comment.createdAt),
    });
    customers?.onNotice(ticket, comment, key);
  };

  const readTicketBody = (req: FastifyRequest, reply: FastifyReply): Record<string, unknown> | undefined => {
    if (!isObject(req.body)) {
      badRequest(reply, 'the request body must be a JSON object with a "ticket" object');
      return undefined;
    }
    const ticket = req.body.ticket ?? {};
    if (!isObject(ticket)) {
      sendError(reply, 422, recordInvalid([{ field: 'ticket', description: 'Ticket: must be an object' }]));
      return undefined;
    }
    return ticket;
  };

  const createTicket = async (req: FastifyRequest, reply: FastifyReply) => {
    const rawKey = req.headers['idempotency-key'];
    if (Array.isArray(rawKey)) return badRequest(reply, 'Idempotency-Key must be given once');
    const key = rawKey?.trim() || undefined;
    if (key && key.length > 255) return badRequest(reply, 'Idempotency-Key is limited to 255 characters');
    const raw = readTicketBody(req, reply);
    if (!raw) return reply;
    const hash = createHash('sha256').update(canonical(req.body)).digest('hex');
    if (key) {
      const previous = idempotency.get(key);
      if (previous && now() - previous.createdAt < IDEMPOTENCY_TTL_MS) {
        if (previous.hash !== hash) {
          return sendError(reply, 400, {
            error: 'IdempotentRequestError',
            description: "Request parameters don't match the given idempotency key",
          });
        }
        return reply.code(previous.status).header('x-idempotency-lookup', 'hit').send(previous.body);
      }
    }
    const input = TicketCreate.safeParse(raw);
    if (!input.success) return sendError(reply, 422, recordInvalid(problemsOf(input.error)));
    const change = store.create(input.data);
    if (Array.isArray(change)) return sendError(reply, 422, recordInvalid(change));
    const body = { ticket: ticketJson(change.ticket, baseUrl), audit: auditJson(change) };
    if (key) {
      idempotency.set(key, { hash, status: 201, body, createdAt: now() });
      reply.header('x-idempotency-lookup', 'miss');
    }
    recordChange(change, key, true);
    return reply
      .code(201)
      .header('location', `${baseUrl}/api/v2/tickets/${change.ticket.id}.json`)
      .send(body);
  };

  const listTickets = async (req: FastifyRequest, reply: FastifyReply) => {
    const externalId = singleQuery(req.query, 'external_id');
    if (externalId === null) return badRequest(reply, 'external_id must be given once');
    const paging = parsePageQuery(req.query as Record<string, unknown>);
    if (!paging.ok) return badRequest(reply, paging.description, 'InvalidPaginationParameter');
    const matching = store.all().filter((t) => externalId === undefined || t.externalId === externalId);
    const page = paginate(matching, paging.value, (p) =>
      buildUrl(baseUrl, '/api/v2/tickets.json', { external_id: externalId, ...p }),
    );
    return { tickets: page.items.map((t) => ticketJson(t, baseUrl)), ...page.envelope };
  };

  const showTicket = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const id = ticketIdOf(req.params.id);
    const ticket = id === undefined ? undefined : store.get(id);
    if (!ticket) return recordNotFound(reply);
    return { ticket: ticketJson(ticket, baseUrl) };
  };

  const updateTicket = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const id = ticketIdOf(req.params.id);
    const ticket = id === undefined ? undefined : store.get(id);
    if (!ticket) return recordNotFound(reply);
    const raw = readTicketBody(req, reply);
    if (!raw) return reply;
    const input = TicketUpdate.safeParse(raw);
    if (!input.success) return sendError(reply, 422, recordInvalid(problemsOf(input.error)));
    const change = store.update(ticket, input.data);
    if (Array.isArray(change)) return sendError(reply, 422, recordInvalid(change));
    const metaKey = input.data.metadata?.[KEY_METADATA_KEY];
    recordChange(change, typeof metaKey === 'string' && metaKey ? metaKey : undefined, false);
    return { ticket: ticketJson(change.ticket, baseUrl), audit: auditJson(change) };
  };

  const listComments = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const id = ticketIdOf(req.params.id);
    const ticket = id === undefined ? undefined : store.get(id);
    if (!ticket) return recordNotFound(reply);
    const paging = parsePageQuery(req.query as Record<string, unknown>);
    if (!paging.ok) return badRequest(reply, paging.description, 'InvalidPaginationParameter');
    const page = paginate(ticket.comments, paging.value, (p) =>
      buildUrl(baseUrl, `/api/v2/tickets/${ticket.id}/comments.json`, p),
    );
    return { comments: page.items.map(commentJson), ...page.envelope };
  };

  const search = async (req: FastifyRequest, reply: FastifyReply) => {
    const query = singleQuery(req.query, 'query');
    if (typeof query !== 'string' || !query.trim()) {
      return badRequest(reply, 'the query parameter is required', 'InvalidSearchQuery');
    }
    if (query.length > 2000) return badRequest(reply, 'the query is too long', 'InvalidSearchQuery');
    const paging = parsePageQuery(req.query as Record<string, unknown>);
    if (!paging.ok) return badRequest(reply, paging.description, 'InvalidPaginationParameter');
    if (paging.value.mode === 'cursor') {
      return badRequest(reply, 'search.json pages by page and per_page', 'InvalidPaginationParameter');
    }
    const results = searchTickets(store.all(), query);
    const page = paginate(results, paging.value, (p) =>
      buildUrl(baseUrl, '/api/v2/search.json', { query, ...p }),
    );
    return {
      results: page.items.map((t) => ({ ...ticketJson(t, baseUrl), result_type: 'ticket' })),
      facets: null,
      ...page.envelope,
    };
  };

  /** A job result's error for Zendesk validation problems: the name and the problems in words. */
  const itemInvalid = (problems: FieldProblem[]) => ({
    error: 'RecordInvalid',
    details: problems.map((p) => p.description).join(' '),
  });

  /** Reads the ids parameter of a bulk request: up to MAX_BULK_TICKETS ticket ids, comma-separated. */
  const bulkIds = (req: FastifyRequest, reply: FastifyReply): number[] | undefined | null => {
    const raw = singleQuery(req.query, 'ids');
    if (raw === undefined) return undefined;
    const parts = (raw ?? '').split(',').map((p) => p.trim());
    if (raw === null || parts.some((p) => !/^\d{1,15}$/.test(p))) {
      badRequest(reply, 'ids must be given once, as a comma-separated list of ticket ids');
      return null;
    }
    if (parts.length > MAX_BULK_TICKETS) {
      badRequest(reply, `Too many ids: at most ${MAX_BULK_TICKETS} per request`);
      return null;
    }
    return parts.map(Number);
  };

  /** Reads a bulk body's array (`tickets`): present, not empty, at most MAX_BULK_TICKETS. */
  const bulkTickets = (req: FastifyRequest, reply: FastifyReply): unknown[] | undefined => {
    const list = isObject(req.body) ? req.body.tickets : undefined;
    if (!Array.isArray(list) || list.length === 0) {
      badRequest(reply, 'the request body must be a JSON object with a non-empty "tickets" array');
      return undefined;
    }
    if (list.length > MAX_BULK_TICKETS) {
      badRequest(reply, `Too many tickets: at most ${MAX_BULK_TICKETS} per request`);
      return undefined;
    }
    return list;
  };

  /** One create_many item, processed in the job: the ticket, or its own error. */
  const createItem = (raw: unknown, index: number): Record<string, unknown> => {
    if (!isObject(raw))
      return { index, ...itemInvalid([{ field: 'ticket', description: 'Ticket: must be an object' }]) };
    const input = TicketCreate.safeParse(raw);
    if (!input.success) return { index, ...itemInvalid(problemsOf(input.error)) };
    const change = store.create(input.data);
    if (Array.isArray(change)) return { index, ...itemInvalid(change) };
    recordChange(change, undefined, true);
    const externalId = change.ticket.externalId;
    return {
      index,
      id: change.ticket.id,
      ...(externalId ? { external_id: externalId } : {}),
      status: 'Created',
    };
  };

  /** One update_many item, processed in the job: updated, or its own error. */
  const updateItem = (id: unknown, raw: unknown, index: number): Record<string, unknown> => {
    const failed = (error: Record<string, unknown>) => ({
      index,
      id: typeof id === 'number' ? id : null,
      action: 'update',
      success: false,
      status: 'Failed',
      ...error,
    });
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) {
      return failed({ error: 'InvalidValue', details: 'Id: must be a ticket id' });
    }
    const ticket = store.get(id);
    if (!ticket) return failed({ error: 'RecordNotFound', details: 'Ticket not found' });
    if (!isObject(raw))
      return failed(itemInvalid([{ field: 'ticket', description: 'Ticket: must be an object' }]));
    const input = TicketUpdate.safeParse(raw);
    if (!input.success) return failed(itemInvalid(problemsOf(input.error)));
    const change = store.update(ticket, input.data);
    if (Array.isArray(change)) return failed(itemInvalid(change));
    recordChange(change, metadataKey(input.data.metadata), false);
    return { index, id, action: 'update', success: true, status: 'Updated' };
  };

  const createMany = async (req: FastifyRequest, reply: FastifyReply) => {
    const list = bulkTickets(req, reply);
    if (!list) return reply;
    const job = jobs.enqueue(
      'Bulk Create Tickets',
      list.map((raw, index) => () => createItem(raw, index)),
    );
    return { job_status: jobStatusJson(job, baseUrl) };
  };

  const updateMany = async (req: FastifyRequest, reply: FastifyReply) => {
    const ids = bulkIds(req, reply);
    if (ids === null) return reply;
    let items: { id: unknown; patch: unknown }[];
    if (ids) {
      // Bulk update: one change applied to every ticket named.
      const ticket = isObject(req.body) ? req.body.ticket : undefined;
      if (!isObject(ticket))
        return badRequest(reply, 'with ids, the request body must hold a "ticket" object');
      items = ids.map((id) => ({ id, patch: ticket }));
    } else {
      // Batch update: one change per ticket, each naming its id.
      const list = bulkTickets(req, reply);
      if (!list) return reply;
      items = list.map((t) => {
        if (!isObject(t)) return { id: undefined, patch: t };
        const { id, ...patch } = t;
        return { id, patch };
      });
    }
    const job = jobs.enqueue(
      'Bulk Update Tickets',
      items.map((item, index) => () => updateItem(item.id, item.patch, index)),
    );
    return { job_status: jobStatusJson(job, baseUrl) };
  };

  const showMany = async (req: FastifyRequest, reply: FastifyReply) => {
    const ids = bulkIds(req, reply);
    if (ids === null) return reply;
    if (!ids) return badRequest(reply, 'ids is required');
    const tickets = ids.flatMap((id) => {
      const t = store.get(id);
      return t ? [ticketJson(t, baseUrl)] : [];
    });
    return { tickets, next_page: null, previous_page: null, count: tickets.length };
  };

  const showManyJobStatuses = async (req: FastifyRequest, reply: FastifyReply) => {
    const raw = singleQuery(req.query, 'ids');
    const ids = typeof raw === 'string' ? raw.split(',').map((p) => p.trim()) : [];
    if (!ids.length || ids.some((id) => !/^[0-9a-zA-Z]{1,64}$/.test(id))) {
      return badRequest(reply, 'ids must be given once, as a comma-separated list of job status ids');
    }
    if (ids.length > MAX_BULK_TICKETS) {
      return badRequest(reply, `Too many ids: at most ${MAX_BULK_TICKETS} per request`);
    }
    const found = ids.flatMap((id) => {
      const job = jobs.get(id);
      return job ? [jobStatusJson(job, baseUrl)] : [];
    });
    return { job_statuses: found };
  };

  const showJobStatus = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const job = jobs.get(req.params.id.replace(/\.json$/, ''));
    if (!job) return recordNotFound(reply);
    return { job_status: jobStatusJson(job, baseUrl) };
  };

  for (const suffix of ['', '.json']) {
    app.post(`/api/v2/tickets/create_many${suffix}`, createMany);
    app.put(`/api/v2/tickets/update_many${suffix}`, updateMany);
    app.get(`/api/v2/tickets/show_many${suffix}`, showMany);
    app.get(`/api/v2/job_statuses/show_many${suffix}`, showManyJobStatuses);
    app.post(`/api/v2/tickets${suffix}`, createTicket);
    app.get(`/api/v2/tickets${suffix}`, listTickets);
    app.get(`/api/v2/search${suffix}`, search);
    app.get(`/api/v2/tickets/:id/comments${suffix}`, listComments);
  }
  // The authenticated agent: Zendesk's cheapest call that proves a credential.
  app.get('/api/v2/users/me.json', async () => ({ user: sandboxAgent(options.credentials?.email) }));
  app.get('/api/v2/users/me', async () => ({ user: sandboxAgent(options.credentials?.email) }));
  app.get('/api/v2/tickets/:id', showTicket);
  app.put('/api/v2/tickets/:id', updateTicket);
  app.get('/api/v2/job_statuses/:id', showJobStatus);

  effects.install(app);
  app.get('/__sandbox/notifications', async (req, reply) => {
    const externalId = singleQuery(req.query, 'external_id');
    if (externalId === null) return badRequest(reply, 'external_id must be given once');
    const list = notices.filter((n) => externalId === undefined || n.externalId === externalId);
    return { notifications: list, count: list.length };
  });
  app.get('/__sandbox/cases', async (req, reply) => {
    const externalId = singleQuery(req.query, 'external_id');
    if (externalId === null) return badRequest(reply, 'external_id must be given once');
    const cases = store
      .all()
      .filter((t) => t.tags.includes(CASE_TAG) && (externalId === undefined || t.externalId === externalId))
      .map((t) => ({
        ticketId: t.id,
        externalId: t.externalId,
        kind: t.tags.find((tag) => tag.startsWith(KIND_TAG_PREFIX))?.slice(KIND_TAG_PREFIX.length) ?? null,
        status: t.status,
        priority: t.priority,
        subject: t.subject,
      }));
    return { cases, count: cases.length };
  });
  app.get('/__sandbox/reschedules', async () => {
    const list = customers?.records ?? [];
    return { reschedules: list, count: list.length };
  });
  app.get('/__sandbox/webhooks', async () => ({ deliveries: webhooks.log, count: webhooks.log.length }));

  await app.listen({ port: opts.port, host: opts.host });
  const port = (app.server.address() as AddressInfo).port;
  const publicHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  baseUrl = `http://${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}`;

  return {
    url: baseUrl,
    port,
    app,
    effects,
    faults,
    webhooks,
    store,
    notices,
    reschedules: customers?.records ?? [],
    jobs,
    async drain() {
      await jobs.drain();
      await customers?.drain();
      await webhooks.drain();
    },
    async close() {
      jobs.close();
      await customers?.close();
      await app.close();
    },
  };
}
