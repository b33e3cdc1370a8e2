import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import { ShipsyncError } from '../../domain/errors.js';
import type { FailureReason } from '../../domain/events.js';
import type { Address, GeoPoint, Job, TimeWindow } from '../../domain/model.js';
import type {
  DispatchPort,
  DispatchTaskPage,
  DispatchTaskRef,
  DispatchTaskView,
  PlanResult,
} from '../ports.js';
import {
  destinationToOnfleet,
  failureReasonFromOnfleet,
  jobToOnfleetTask,
  type OnfleetTaskBody,
} from './mappers.js';
import { REGION_TIMEZONES, localMidnightMs } from '../../domain/local-time.js';
import type PQueue from 'p-queue';
import { DEFAULT_BULK, bulkOperation, type BulkOperation, type BulkOptions } from '../bulk.js';
import { requestPacer } from '../pacing.js';

export { REGION_TIMEZONES };

/** Settings of the Onfleet adapter. */
export interface DispatchAdapterOptions {
  /** Base URL without the API path, e.g. http://127.0.0.1:4002 or https://onfleet.com. */
  baseUrl: string;
  apiKey: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Region time zones beyond (or instead of) REGION_TIMEZONES. */
  regionTimezones?: Record<string, string>;
  /**
   * How concurrent `createTask` calls are coalesced into one `POST /tasks/batch` (DEFAULT_BULK when unset);
   * `maxItems` is capped at Onfleet's batch limit.
   */
  bulk?: BulkOptions;
  /** How long the region → team lookup (`GET /teams`) is reused (default 5 minutes). */
  teamsTtlMs?: number;
  /** The clock of the team lookup (tests move it). */
  now?: () => number;
  /** Requests a second this adapter starts at most (a batch is one): its share of the API key's limit. */
  requestsPerSecond?: number;
}

/** Most tasks Onfleet takes in one `POST /tasks/batch`. */
export const ONFLEET_BATCH_LIMIT = 500;
/** Teams rarely change: the region → team lookup is read again after this long. */
export const DEFAULT_TEAMS_TTL_MS = 5 * 60_000;

/** Options of `createTask`. */
export interface CreateTaskOptions {
  /** No earlier try of this create can exist (the activity's first attempt): skip the lookup by key. */
  firstTry?: boolean;
}

/** The outcome a dispatcher gives a task it completes by hand. */
export interface ForcedCompletion {
  success: boolean;
  notes?: string;
}

/** The subset of an Onfleet task the adapter reads. */
interface TaskResponse {
  id: string;
  estimatedArrivalTime?: number | null;
}

/** A shipment's delivery attempt as dispatch records it, in ISO-8601 instants. */
export interface DispatchTaskRecord {
  taskId: string;
  attempt: number;
  createdAt: string;
  windowStart?: string;
  windowEnd?: string;
  /** The task's last ETA (before arrival, as dispatch last estimated it). */
  eta?: string;
  arrivedAt?: string;
  completedAt?: string;
  failedAt?: string;
  failureReason?: FailureReason;
}

const epoch = z.number().int().nonnegative();
/** The parts of an Onfleet task (GET /tasks, POST /tasks/metadata) a task record reads. */
const TaskRecordResponse = z
  .object({
    id: z.string().min(1),
    timeCreated: epoch,
    state: z.number().int(),
    completeAfter: epoch.nullable().optional(),
    completeBefore: epoch.nullable().optional(),
    estimatedArrivalTime: epoch.nullable().optional(),
    metadata: z.array(z.object({ name: z.string(), value: z.unknown() }).loose()).default([]),
    completionDetails: z
      .object({
        success: z.boolean().optional(),
        time: epoch.nullable().optional(),
        failureReason: z.string().optional(),
        events: z.array(z.object({ name: z.string(), time: epoch }).loose()).default([]),
      })
      .loose()
      .optional(),
  })
  .loose();

/** A task as a record of its attempt; undefined for a task without shipsync's attempt metadata. */
function taskRecordOf(t: z.infer<typeof TaskRecordResponse>): DispatchTaskRecord | undefined {
  const attempt = t.metadata.find((m) => m.name === 'attempt')?.value;
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1) return undefined;
  const iso = (ms: number | null | undefined) =>
    typeof ms === 'number' ? new Date(ms).toISOString() : undefined;
  const cd = t.completionDetails;
  const arrival = cd?.events.find((e) => e.name === 'arrival')?.time;
  // State 3 is completed: succeeded (delivered) or failed, at completionDetails.time.
  const done = t.state === 3 ? cd?.time : undefined;
  const record: DispatchTaskRecord = { taskId: t.id, attempt, createdAt: iso(t.timeCreated)! };
  const set = <K extends keyof DispatchTaskRecord>(k: K, v: DispatchTaskRecord[K] | undefined) => {
    if (v !== undefined) record[k] = v;
  };
  set('windowStart', iso(t.completeAfter));
  set('windowEnd', iso(t.completeBefore));
  set('eta', iso(t.estimatedArrivalTime));
  set('arrivedAt', iso(arrival));
  if (done !== undefined && done !== null) {
    if (cd?.success) set('completedAt', iso(done));
    else {
      set('failedAt', iso(done));
      set('failureReason', failureReasonFromOnfleet(cd?.failureReason));
    }
  }
  return record;
}

/** The error body Onfleet sends. */
interface OnfleetErrorResponse {
  code?: string;
  message?: { error?: number; message?: string; cause?: unknown };
}

/** One task of a `POST /tasks/batch` answer that was not created: the error (batch shape) and the body sent. */
interface OnfleetBatchError {
  error?: { statusCode?: number; error?: number; message?: string; cause?: unknown };
  task?: { metadata?: { name?: string; value?: unknown }[] };
}

/** The `POST /tasks/batch` answer: the created tasks and the ones that failed. */
interface OnfleetBatchResponse {
  tasks?: (TaskResponse & { metadata?: { name?: string; value?: unknown }[] })[];
  errors?: OnfleetBatchError[];
}

/** The shipsyncKey metadata of a task or task body. */
function keyOf(metadata: { name?: string; value?: unknown }[] | undefined): string | undefined {
  const value = metadata?.find((m) => m.name === 'shipsyncKey')?.value;
  return typeof value === 'string' ? value : undefined;
}

/** The field named at the start of an Onfleet error cause ("destination.location: ..."), if any. */
function fieldOf(cause: unknown): string | undefined {
  if (typeof cause !== 'string') return undefined;
  const m = /^([A-Za-z_][\w.]*):/.exec(cause);
  return m ? m[1] : undefined;
}

/**
 * Classifies a failed Onfleet call: 404 task not found, other 4xx rejected (not retryable), 429 rate
 * limited with the wait, 5xx / timeout / refused connection unavailable (retryable).
 */
export function classifyOnfleetError(err: unknown, operation: string): ShipsyncError {
  if (err instanceof ShipsyncError) return err;
  if (axios.isAxiosError(err)) {
    const res = err.response;
    if (!res) {
      return new ShipsyncError(
        'DISPATCH_UNAVAILABLE',
        `${operation}: dispatch did not answer (${err.code ?? err.message})`,
      );
    }
    return classifyOnfleetStatus(
      res.status,
      res.data as OnfleetErrorResponse | undefined,
      res.headers['retry-after'],
      operation,
    );
  }
  return new ShipsyncError(
    'DISPATCH_UNAVAILABLE',
    `${operation}: ${err instanceof Error ? err.message : String(err)}`,
  );
}

/** The typed error of an Onfleet error status and body (a whole answer, or one task of a batch). */
function classifyOnfleetStatus(
  status: number,
  body: OnfleetErrorResponse | undefined,
  retryAfter: unknown,
  operation: string,
): ShipsyncError {
  const text = body?.message?.message ?? `HTTP ${status}`;
  const cause = body?.message?.cause;
  const detail = typeof cause === 'string' ? `${text} ${cause}` : text;
  if (status === 429) {
    const header = Number(retryAfter);
    const retryAfterMs = Number.isFinite(header) && header > 0 ? header * 1000 : 1000;
    return new ShipsyncError('DISPATCH_RATE_LIMITED', `${operation}: ${detail}`, {
      status: 429,
      retryAfterMs,
    });
  }
  if (status >= 500) {
    return new ShipsyncError('DISPATCH_UNAVAILABLE', `${operation}: ${detail}`, { status });
  }
  if (status === 404) {
    return new ShipsyncError('DISPATCH_TASK_NOT_FOUND', `${operation}: ${detail}`, { status: 404, body });
  }
  const field = fieldOf(cause);
  return new ShipsyncError('DISPATCH_REJECTED', `${operation}: ${detail}`, {
    status,
    body,
    ...(field ? { field } : {}),
  });
}

/** The typed error of one task a batch did not create: what `POST /tasks` would have answered for it. */
function classifyBatchError(entry: OnfleetBatchError, operation: string): ShipsyncError {
  const e = entry.error ?? {};
  const status = typeof e.statusCode === 'number' ? e.statusCode : 400;
  const body: OnfleetErrorResponse = {
    message: {
      ...(e.error === undefined ? {} : { error: e.error }),
      ...(e.message === undefined ? {} : { message: e.message }),
      ...(e.cause === undefined ? {} : { cause: e.cause }),
    },
  };
  return classifyOnfleetStatus(status, body, undefined, operation);
}

/** A batch item: the task body of one `createTask` call and its idempotency key. */
interface CreateItem {
  key: string;
  body: OnfleetTaskBody;
}

/** shipsync's dispatch port spoken in Onfleet API v2: Basic auth with the API key, metadata-keyed idempotency. */
export class OnfleetDispatchAdapter implements DispatchPort {
  private readonly timezones: Record<string, string>;
  private readonly teamsTtlMs: number;
  private readonly now: () => number;
  /** The region → team lookup and when it was asked for; one `GET /teams` serves every concurrent caller. */
  private teams: { at: number; ids: Promise<Map<string, string>> } | undefined;
  private readonly creates: BulkOperation<CreateItem, string>;
  /** Creates on their way, by key: a second call for the same key waits for the same task. */
  private readonly creating = new Map<string, Promise<string>>();

  /** Paces every request (SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND); Onfleet allows 20 a second per key. */
  private readonly pacer: PQueue;

  constructor(
    private readonly http: AxiosInstance,
    opts: {
      regionTimezones?: Record<string, string>;
      bulk?: BulkOptions;
      teamsTtlMs?: number;
      now?: () => number;
      requestsPerSecond?: number;
    } = {},
  ) {
    this.pacer = requestPacer(opts.requestsPerSecond);
    this.timezones = { ...REGION_TIMEZONES, ...opts.regionTimezones };
    this.teamsTtlMs = opts.teamsTtlMs ?? DEFAULT_TEAMS_TTL_MS;
    this.now = opts.now ?? Date.now;
    const bulk = opts.bulk ?? DEFAULT_BULK;
    this.creates = bulkOperation((items) => this.createBatch(items), {
      ...bulk,
      maxItems: Math.min(bulk.maxItems, ONFLEET_BATCH_LIMIT),
    });
  }

  /** Batches and tasks sent by `POST /tasks/batch` so far. */
  get createStats(): { requests: number; items: number } {
    return { ...this.creates.stats };
  }

  /**
   * Finds the task an earlier try already created (by its shipsyncKey metadata) or creates it in the region's
   * team. The create goes out in one `POST /tasks/batch` with the other creates of the moment; a first try
   * (`opts.firstTry`) has nothing to find and skips the lookup. A call for a key whose create is already on
   * its way from this adapter waits for that task. Resolves with its own task, or rejects with the error a
   * single `POST /tasks` would have got for it.
   */
  async createTask(job: Job, idempotencyKey: string, opts: CreateTaskOptions = {}): Promise<DispatchTaskRef> {
    const pending = this.creating.get(idempotencyKey);
    if (pending) return { taskId: await pending };
    if (!opts.firstTry) {
      const existing = await this.call('find task by key', () =>
        this.http.post<TaskResponse[]>('/tasks/metadata', [
          { name: 'shipsyncKey', type: 'string', value: idempotencyKey },
        ]),
      );
      const found = existing[0];
      if (found) return { taskId: found.id };
    }
    const teamId = await this.teamFor(job.region);
    const joined = this.creating.get(idempotencyKey);
    if (joined) return { taskId: await joined };
    const created = this.creates.submit({
      key: idempotencyKey,
      body: jobToOnfleetTask(job, idempotencyKey, { teamId }),
    });
    this.creating.set(idempotencyKey, created);
    try {
      return { taskId: await created };
    } finally {
      if (this.creating.get(idempotencyKey) === created) this.creating.delete(idempotencyKey);
    }
  }

  /**
   * Sends one batch of creates (each key once: `createTask` joins a create already on its way). Each call
   * gets its task, matched by its shipsyncKey, or its own error; a task the answer does not mention fails
   * retryably, and the retry looks it up.
   */
  private async createBatch(items: readonly CreateItem[]): Promise<(string | Error)[]> {
    const res = await this.call('create tasks in batch', () =>
      this.http.post<OnfleetBatchResponse>('/tasks/batch', { tasks: items.map((i) => i.body) }),
    );
    const outcomes = new Map<string, string | Error>();
    for (const task of res.tasks ?? []) {
      const key = keyOf(task.metadata);
      if (key !== undefined && typeof task.id === 'string') outcomes.set(key, task.id);
    }
    for (const entry of res.errors ?? []) {
      const key = keyOf(entry.task?.metadata);
      if (key !== undefined && !outcomes.has(key))
        outcomes.set(key, classifyBatchError(entry, 'create task'));
    }
    return items.map(
      (item) =>
        outcomes.get(item.key) ??
        new ShipsyncError(
          'DISPATCH_UNAVAILABLE',
          `create task: the batch answer does not mention the task of ${item.key}`,
        ),
    );
  }

  /**
   * Completes a task by hand (Onfleet's force completion), as succeeded or failed with notes: dispatch then
   * sends the taskCompleted or taskFailed webhook a driver's completion sends. A task dispatch does not know
   * is `DISPATCH_TASK_NOT_FOUND`; one that is already completed `DISPATCH_TASK_COMPLETED`.
   */
  async completeTask(taskId: string, outcome: ForcedCompletion): Promise<void> {
    const operation = `complete task ${taskId}`;
    try {
      await this.call(operation, () =>
        this.http.post(`/tasks/${encodeURIComponent(taskId)}/complete`, {
          completionDetails: {
            success: outcome.success,
            ...(outcome.notes === undefined ? {} : { notes: outcome.notes }),
          },
        }),
      );
    } catch (err) {
      if (err instanceof ShipsyncError && err.code === 'DISPATCH_REJECTED' && err.details.field === 'state') {
        throw new ShipsyncError('DISPATCH_TASK_COMPLETED', `${operation}: the task is already completed`, {
          ...err.details,
        });
      }
      throw err;
    }
  }

  /** Moves the task's window; dispatch re-plans the route and answers with the new ETA. */
  async rescheduleTask(taskId: string, window: TimeWindow): Promise<{ eta?: string }> {
    const task = await this.call('reschedule task', () =>
      this.http.put<TaskResponse>(`/tasks/${encodeURIComponent(taskId)}`, {
        completeAfter: Date.parse(window.start),
        completeBefore: Date.parse(window.end),
      }),
    );
    return typeof task.estimatedArrivalTime === 'number'
      ? { eta: new Date(task.estimatedArrivalTime).toISOString() }
      : {};
  }

  /** Replaces the task's destination after an address correction. */
  async updateTaskDestination(taskId: string, address: Address, location: GeoPoint): Promise<void> {
    await this.call('update destination', () =>
      this.http.put<TaskResponse>(
        `/tasks/${encodeURIComponent(taskId)}`,
        destinationToOnfleet(address, location),
      ),
    );
  }

  /** Deletes the task; one that is already gone counts as cancelled. */
  async cancelTask(taskId: string): Promise<void> {
    try {
      await this.call('cancel task', () => this.http.delete(`/tasks/${encodeURIComponent(taskId)}`));
    } catch (err) {
      if (err instanceof ShipsyncError && err.code === 'DISPATCH_TASK_NOT_FOUND') return;
      throw err;
    }
  }

  /** Runs team auto-dispatch for the region's local day; assignments follow as taskAssigned webhooks. */
  async planRegion(region: string, date: string): Promise<PlanResult> {
    const teamId = await this.teamFor(region);
    const timeZone = this.timezones[region] ?? 'UTC';
    const start = Math.floor(localMidnightMs(date, timeZone) / 1000);
    const end = Math.floor(localMidnightMs(nextDate(date), timeZone) / 1000);
    const res = await this.call('dispatch team', () =>
      this.http.post<{
        dispatchId?: string;
        routes?: number;
        assigned?: number;
        unassigned?: { taskId: string; reason: string }[];
      }>(`/teams/${encodeURIComponent(teamId)}/dispatch`, { taskTimeWindow: [start, end - 1] }),
    );
    return {
      routes: res.routes ?? 0,
      assigned: res.assigned ?? 0,
      unassigned: (res.unassigned ?? []).map((u) => ({ taskId: u.taskId, reason: u.reason })),
    };
  }

  /** One page of `GET /tasks/all?from=&to=&lastId=` (Onfleet pages by the last task id it returned). */
  async listTasks(opts: { from: string; to: string; cursor?: string }): Promise<DispatchTaskPage> {
    const from = Date.parse(opts.from);
    const to = Date.parse(opts.to);
    if (!Number.isFinite(from) || !Number.isFinite(to) || to < from) {
      throw new ShipsyncError('VALIDATION_FAILED', 'list tasks: from and to must be instants, from first', {
        field: 'from',
      });
    }
    const res = await this.call('list tasks', () =>
      this.http.get<{ tasks?: OnfleetListedTask[]; lastId?: string }>('/tasks/all', {
        params: { from, to, ...(opts.cursor ? { lastId: opts.cursor } : {}) },
      }),
    );
    const tasks = (res.tasks ?? []).map(taskViewOf);
    return res.lastId ? { tasks, nextCursor: res.lastId } : { tasks };
  }

  /**
   * The Onfleet team of a region: the team whose name is the region code. The team list is read once for
   * every caller of the moment and reused for `teamsTtlMs`; a region missing from a list older than a second
   * is looked up again (a team added since).
   */
  private async teamFor(region: string, again = false): Promise<string> {
    const now = this.now();
    if (!this.teams || now - this.teams.at >= this.teamsTtlMs) {
      this.teams = { at: now, ids: this.readTeams() };
    }
    const entry = this.teams;
    let ids: Map<string, string>;
    try {
      ids = await entry.ids;
    } catch (err) {
      if (this.teams === entry) this.teams = undefined;
      throw err;
    }
    const id = ids.get(region);
    if (id) return id;
    if (!again && this.now() - entry.at > 1000) {
      if (this.teams === entry) this.teams = undefined;
      return this.teamFor(region, true);
    }
    throw new ShipsyncError('DISPATCH_REJECTED', `dispatch has no team for region ${region}`, {
      field: 'region',
    });
  }

  private async readTeams(): Promise<Map<string, string>> {
    const teams = await this.call('list teams', () =>
      this.http.get<{ id: string; name: string }[]>('/teams'),
    );
    return new Map(teams.map((t) => [t.name, t.id]));
  }

  /**
   * Every task of a shipment as dispatch records it (Onfleet's metadata query on `shipmentId`), oldest first:
   * attempt, window, last ETA, arrival, completion or failure, all in dispatch's own times. A read for the
   * read model (its rebuild and the reconciliation at a shipment's close); no side effect.
   */
  async tasksOfShipment(shipmentId: string): Promise<DispatchTaskRecord[]> {
    const tasks = await this.call('list tasks of a shipment', () =>
      this.http.post<unknown>('/tasks/metadata', [{ name: 'shipmentId', type: 'string', value: shipmentId }]),
    );
    return z
      .array(TaskRecordResponse)
      .parse(tasks)
      .map(taskRecordOf)
      .filter((t): t is DispatchTaskRecord => t !== undefined)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.attempt - b.attempt);
  }

  private async call<T>(operation: string, fn: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await this.pacer.add(fn)).data;
    } catch (err) {
      throw classifyOnfleetError(err, operation);
    }
  }
}

/** The fields of a listed Onfleet task that reconciliation reads. */
interface OnfleetListedTask {
  id: string;
  state: number;
  completionDetails?: { success?: boolean | null } | null;
  metadata?: { name: string; value: unknown }[];
}

const TASK_STATES = ['unassigned', 'assigned', 'active', 'completed'] as const;

/** A listed task in port terms: state name, success, and the shipment metadata shipsync put on it. */
export function taskViewOf(t: OnfleetListedTask): DispatchTaskView {
  const meta = (name: string) => t.metadata?.find((m) => m.name === name)?.value;
  const shipmentId = meta('shipmentId');
  const attempt = meta('attempt');
  const state = TASK_STATES[t.state] ?? 'unassigned';
  const success = t.completionDetails?.success;
  return {
    taskId: t.id,
    state,
    ...(typeof shipmentId === 'string' ? { shipmentId } : {}),
    ...(typeof attempt === 'number' ? { attempt } : {}),
    ...(state === 'completed' && typeof success === 'boolean' ? { success } : {}),
  };
}

function nextDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** Builds the Onfleet adapter for a base URL and API key. */
export function createDispatchAdapter(opts: DispatchAdapterOptions): OnfleetDispatchAdapter {
  const http = axios.create({
    baseURL: `${opts.baseUrl.replace(/\/+$/, '')}/api/v2`,
    auth: { username: opts.apiKey, password: '' },
    timeout: opts.timeoutMs ?? 10_000,
    headers: { accept: 'application/json' },
  });
  return new OnfleetDispatchAdapter(http, {
    ...(opts.regionTimezones ? { regionTimezones: opts.regionTimezones } : {}),
    ...(opts.bulk ? { bulk: opts.bulk } : {}),
    ...(opts.teamsTtlMs === undefined ? {} : { teamsTtlMs: opts.teamsTtlMs }),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.requestsPerSecond === undefined ? {} : { requestsPerSecond: opts.requestsPerSecond }),
  });
}
