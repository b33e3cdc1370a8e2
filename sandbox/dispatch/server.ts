import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { REAL_CLOCK, simAt, type ClockSettings } from '../../src/domain/clock.js';
import { EffectLog } from '../common/effects.js';
import { FaultInjector, type FaultResponder, type FaultSettings } from '../common/faults.js';
import { WebhookSender } from '../common/webhooks.js';
import { localDateOf, localTimeToUtcMs } from '../../src/domain/local-time.js';
import {
  WEBHOOK_TRIGGERS,
  errorNameForStatus,
  onfleetErrorBody,
  sendOnfleetError,
  triggerNameOf,
  type TriggerName,
} from './onfleet.js';
import {
  BatchCreateBody,
  CloneTaskBody,
  CompleteTaskBody,
  CreateTaskBody,
  CreateWebhookBody,
  DispatchBody,
  ListTasksQuery,
  MetadataQueryBody,
  SimulatorPatch,
  UpdateTaskBody,
  causeOf,
} from './requests.js';
import { DEFAULT_TEAMS, IdFactory, seedOrganization, type TeamSeed } from './seed.js';
import { DriverSimulator, type SimulatorSettingsInput } from './simulator.js';
import { DispatchError, DispatchState } from './state.js';
import { WebhookHub, WebhookValidationError } from './webhooks.js';

/** Options of the dispatch sandbox; every one has a default. */
export interface DispatchSandboxOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  host?: string;
  /** Seed of ids, drivers, plans and simulated outcomes (default 1). */
  seed?: number;
  faults?: Partial<FaultSettings>;
  /** The compressed clock all task times live on (default: the real clock). */
  clock?: ClockSettings;
  /** The API key clients send as the Basic-auth user name (default `sandbox-dispatch-key`). */
  apiKey?: string;
  /** The secret webhooks are signed with (default `sandbox-dispatch-webhook-secret`). */
  webhookSecret?: string;
  /** Requests per second per API key before 429 (default 20, as Onfleet). */
  rateLimitPerSecond?: number;
  simulator?: SimulatorSettingsInput;
  /** Teams (regions) to seed instead of CHI, DAL, ATL, PHX and NYC. */
  teams?: TeamSeed[];
  /** Optimiser effort per team dispatch (default 1 s, no iteration cap). */
  planning?: { timeLimitMs?: number; maxIterations?: number };
  /** Webhooks registered at start without the handshake (the receiver may not be up yet). */
  webhooks?: { url: string; trigger: number | TriggerName; threshold?: number }[];
  /** Retry policy of outgoing webhooks. */
  webhookDelivery?: { maxAttempts?: number; baseDelayMs?: number; maxDelayMs?: number; timeoutMs?: number };
}

/** A running dispatch sandbox. */
export interface DispatchSandbox {
  url: string;
  port: number;
  apiKey: string;
  app: FastifyInstance;
  state: DispatchState;
  simulator: DriverSimulator;
  webhooks: WebhookHub;
  sender: WebhookSender;
  effects: EffectLog;
  faults: FaultInjector;
  /** Stops the simulator and the HTTP server. */
  close(): Promise<void>;
}

/** Default API key, as in `.env.example` (SHIPSYNC_DISPATCH_API_KEY). */
export const DEFAULT_DISPATCH_API_KEY = 'sandbox-dispatch-key';
/** Default webhook secret, as in `.env.example` (SHIPSYNC_DISPATCH_WEBHOOK_SECRET). */
export const DEFAULT_DISPATCH_WEBHOOK_SECRET = 'sandbox-dispatch-webhook-secret';

const API_PREFIX = '/api/v2/';
const isApiRoute = (url: string) => url.startsWith(API_PREFIX);

/** Counts requests per API key over a rolling second, as Onfleet's limiter does. */
class RateLimiter {
  private readonly seen = new Map<string, number[]>();
  constructor(readonly limit: number) {}
  /** Records a request; returns what is left and, when over the limit, how long to wait. */
  take(key: string, now = Date.now()): { remaining: number; retryAfterMs?: number } {
    const recent = (this.seen.get(key) ?? []).filter((t) => t > now - 1000);
    if (recent.length >= this.limit) {
      this.seen.set(key, recent);
      return { remaining: 0, retryAfterMs: Math.max(1, recent[0]! + 1000 - now) };
    }
    recent.push(now);
    this.seen.set(key, recent);
    return { remaining: this.limit - recent.length };
  }
}

/** The Basic-auth user name of a request, or undefined. */
function apiKeyOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user ? user : undefined;
}

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new DispatchError('invalidArgument', causeOf(result.error));
  return result.data;
}

const IdParams = z.object({ id: z.string().min(1).max(64) });

/** Starts the Onfleet-dialect dispatch sandbox. */
export async function startDispatchSandbox(opts: DispatchSandboxOptions = {}): Promise<DispatchSandbox> {
  const seed = opts.seed ?? 1;
  const clock = opts.clock ?? REAL_CLOCK;
  const apiKey = opts.apiKey ?? DEFAULT_DISPATCH_API_KEY;
  const secret = opts.webhookSecret ?? DEFAULT_DISPATCH_WEBHOOK_SECRET;
  const limiter = new RateLimiter(opts.rateLimitPerSecond ?? 20);
  const faults = new FaultInjector(opts.faults, seed);
  const effects = new EffectLog();
  const sender = new WebhookSender(faults, {
    maxAttempts: opts.webhookDelivery?.maxAttempts ?? 40,
    baseDelayMs: opts.webhookDelivery?.baseDelayMs ?? 200,
    maxDelayMs: opts.webhookDelivery?.maxDelayMs ?? 5000,
    timeoutMs: opts.webhookDelivery?.timeoutMs ?? 5000,
  });
  const org = seedOrganization(seed, opts.teams ?? DEFAULT_TEAMS, simAt(clock, Date.now()));
  const hub = new WebhookHub({ sender, secret, ids: new IdFactory(seed ^ 0x3eb), adminId: org.adminId });
  const state = new DispatchState(clock, org, {
    seed,
    effects,
    webhooks: hub,
    planning: {
      timeLimitMs: opts.planning?.timeLimitMs ?? 1000,
      ...(opts.planning?.maxIterations === undefined ? {} : { maxIterations: opts.planning.maxIterations }),
    },
  });
  const simulator = new DriverSimulator(state, seed, opts.simulator);
  state.simulator = simulator;
  for (const w of opts.webhooks ?? []) {
    hub.add({
      url: w.url,
      trigger: typeof w.trigger === 'number' ? w.trigger : WEBHOOK_TRIGGERS[w.trigger],
      ...(w.threshold === undefined ? {} : { threshold: w.threshold }),
    });
  }

  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    frameworkErrors: (err, _req, reply) => {
      void sendOnfleetError(reply, errorNameForStatus(err.statusCode ?? 400), err.message);
    },
  });
  // An empty JSON body (a DELETE from a client that always sets the header) is no body, as at Onfleet.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    void json(req, text, done);
  });
  // Any other content type reaches the handlers as text, so their validation answers (not a framework 415).
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof DispatchError) return sendOnfleetError(reply, err.errorName, err.detail);
    if (err instanceof WebhookValidationError)
      return sendOnfleetError(reply, 'webhookValidation', err.message);
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500)
      return sendOnfleetError(reply, errorNameForStatus(status), err.message);
    return sendOnfleetError(reply, 'internal');
  });
  app.setNotFoundHandler((req, reply) =>
    sendOnfleetError(reply, 'notFound', `${req.method} ${req.url.split('?')[0]} is not a route`),
  );

  app.addHook('onRequest', async (req, reply) => {
    if (!isApiRoute(req.url)) return;
    const key = apiKeyOf(req);
    if (key === undefined)
      return sendOnfleetError(reply, 'missingCredentials', 'send the API key as the Basic-auth user name');
    if (key !== apiKey)
      return sendOnfleetError(reply, 'invalidCredentials', 'This key does not exist or is no longer active.');
    const taken = limiter.take(key);
    void reply.header('x-ratelimit-limit', String(limiter.limit));
    void reply.header('x-ratelimit-remaining', String(taken.remaining));
    if (taken.retryAfterMs !== undefined) {
      void reply.header('retry-after', String(Math.ceil(taken.retryAfterMs / 1000)));
      return sendOnfleetError(reply, 'rateLimited', `more than ${limiter.limit} requests in one second`);
    }
  });
  const responder: FaultResponder = {
    unavailable: (reply: FastifyReply) => reply.code(503).send(onfleetErrorBody('unavailable')),
    rateLimited: (reply: FastifyReply, retryAfterSeconds: number) =>
      reply
        .code(429)
        .header('retry-after', String(retryAfterSeconds))
        .header('x-ratelimit-limit', String(limiter.limit))
        .header('x-ratelimit-remaining', '0')
        .send(onfleetErrorBody('rateLimited')),
  };
  faults.install(app, responder, isApiRoute);
  effects.install(app);

  // --- Onfleet API v2 -------------------------------------------------------------------------------
  app.get('/api/v2/auth/test', async (req) => ({
    message: `Hello organization '${org.organizationId}' hitting Onfleet from ${req.ip}`,
    status: 200,
  }));
  app.get('/api/v2/organization', async () => ({
    id: org.organizationId,
    name: 'shipsync sandbox fleet',
    email: 'dispatch@sandbox.invalid',
    country: 'US',
    timezone: 'America/Chicago',
    delegatees: [],
    timeCreated: org.teams[0]?.timeCreated ?? 0,
    timeLastModified: org.teams[0]?.timeLastModified ?? 0,
  }));
  app.get('/api/v2/tasks/all', async (req) => state.listTasks(parse(ListTasksQuery, req.query)));
  app.get('/api/v2/tasks/shortId/:id', async (req) => state.getTaskByShortId(parse(IdParams, req.params).id));
  app.get('/api/v2/tasks/:id', async (req) => state.getTask(parse(IdParams, req.params).id));
  app.post('/api/v2/tasks', async (req) => {
    const body = parse(CreateTaskBody, req.body);
    return state.serialize(() => state.createTask(body));
  });
  // One request for the whole batch, for the rate limit too; each task succeeds or fails on its own.
  app.post('/api/v2/tasks/batch', async (req) => {
    const { tasks } = parse(BatchCreateBody, req.body);
    return state.serialize(() => state.createTasksInBatch(tasks));
  });
  app.post('/api/v2/tasks/:id/complete', async (req, reply) => {
    const { id } = parse(IdParams, req.params);
    const body = parse(CompleteTaskBody, req.body);
    await state.serialize(() => state.forceCompleteTask(id, body));
    return reply.code(200).send();
  });
  app.post('/api/v2/tasks/metadata', async (req) => state.queryMetadata(parse(MetadataQueryBody, req.body)));
  app.put('/api/v2/tasks/:id', async (req) => {
    const { id } = parse(IdParams, req.params);
    const body = parse(UpdateTaskBody, req.body);
    return state.serialize(() => state.updateTask(id, body));
  });
  app.delete('/api/v2/tasks/:id', async (req, reply) => {
    const { id } = parse(IdParams, req.params);
    await state.serialize(() => state.deleteTask(id));
    return reply.code(200).send();
  });
  app.post('/api/v2/tasks/:id/clone', async (req) => {
    const { id } = parse(IdParams, req.params);
    const body = parse(CloneTaskBody, req.body ?? {});
    return state.serialize(() => state.cloneTask(id, body));
  });
  app.get('/api/v2/workers', async (req) => {
    const { teams } = parse(z.object({ teams: z.string().max(2000).optional() }), req.query);
    const wanted = teams?.split(',');
    return org.workers.filter((w) => !wanted || w.teams.some((t) => wanted.includes(t)));
  });
  app.get('/api/v2/workers/:id', async (req) => {
    const { id } = parse(IdParams, req.params);
    const worker = state.worker(id);
    if (!worker) throw new DispatchError('notFound', `worker ${id} does not exist`);
    return worker;
  });
  app.get('/api/v2/workers/:id/schedule', async (req) => {
    const { id } = parse(IdParams, req.params);
    const profile = org.profiles.get(id);
    if (!profile) throw new DispatchError('notFound', `worker ${id} does not exist`);
    const today = localDateOf(state.simNow(), profile.timezone);
    const entries = Array.from({ length: 7 }, (_, i) => {
      const date = localDateOf(Date.parse(`${today}T12:00:00Z`) + i * 86_400_000, 'UTC');
      return {
        date,
        timezone: profile.timezone,
        shifts: [
          [
            localTimeToUtcMs(date, profile.shiftStartSec, profile.timezone),
            localTimeToUtcMs(date, profile.shiftEndSec, profile.timezone),
          ],
        ],
      };
    });
    return { entries };
  });
  app.get('/api/v2/teams', async () => org.teams);
  app.get('/api/v2/teams/:id', async (req) => {
    const { id } = parse(IdParams, req.params);
    const team = org.teams.find((t) => t.id === id);
    if (!team) throw new DispatchError('notFound', `team ${id} does not exist`);
    return team;
  });
  app.post('/api/v2/teams/:id/dispatch', async (req) => {
    const { id } = parse(IdParams, req.params);
    if (!org.teams.some((t) => t.id === id)) throw new DispatchError('notFound', `team ${id} does not exist`);
    const body = parse(DispatchBody, req.body ?? {});
    return state.serialize(() => state.dispatchTeam(id, body));
  });
  app.get('/api/v2/hubs', async () => org.hubs);
  app.get('/api/v2/webhooks', async () => hub.list());
  app.post('/api/v2/webhooks', async (req) => {
    const body = parse(CreateWebhookBody, req.body);
    if (triggerNameOf(body.trigger) === undefined)
      throw new DispatchError('invalidArgument', `trigger: ${body.trigger} is not a webhook trigger`);
    return hub.register({
      url: body.url,
      trigger: body.trigger,
      ...(body.name === undefined ? {} : { name: body.name }),
      ...(body.threshold === undefined ? {} : { threshold: body.threshold }),
    });
  });
  app.delete('/api/v2/webhooks/:id', async (req, reply) => {
    const { id } = parse(IdParams, req.params);
    if (!hub.remove(id)) throw new DispatchError('notFound', `webhook ${id} does not exist`);
    return reply.code(200).send();
  });

  // --- inspection (read-only, no auth) --------------------------------------------------------------
  app.get('/__sandbox/tasks', async (req) => {
    const { shipmentId } = parse(z.object({ shipmentId: z.string().min(1).max(200).optional() }), req.query);
    return { tasks: state.tasksOfShipment(shipmentId) };
  });
  app.get('/__sandbox/routes', async (req) => {
    const q = parse(
      z.object({ team: z.string().min(1).max(64).optional(), date: z.iso.date().optional() }),
      req.query,
    );
    return state.routesView(q.team, q.date);
  });
  app.get('/__sandbox/simulator', async () => simulator.settings);
  app.post('/__sandbox/simulator', async (req) => simulator.update(parse(SimulatorPatch, req.body ?? {})));
  app.get('/__sandbox/clock', async () => {
    const now = state.simNow();
    return { simNowMs: now, simNow: new Date(now).toISOString(), clock };
  });
  app.get('/__sandbox/positions', async (req) => {
    const q = parse(
      z.object({
        workerId: z.string().min(1).max(64).optional(),
        limit: z.coerce.number().int().min(1).max(10_000).default(100),
      }),
      req.query,
    );
    const pings = state.positions.filter((p) => !q.workerId || p.workerId === q.workerId);
    return { positions: pings.slice(-q.limit) };
  });
  app.get('/__sandbox/webhook-deliveries', async () => ({ deliveries: sender.log.slice(-500) }));

  await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  const host = opts.host ?? '127.0.0.1';
  if (simulator.settings.enabled) simulator.update({ enabled: true });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    apiKey,
    app,
    state,
    simulator,
    webhooks: hub,
    sender,
    effects,
    faults,
    async close() {
      simulator.stop();
      await app.close();
    },
  };
}
