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
import { destinationToOnfleet, failureReasonFromOnfleet, jobToOnfleetTask } from './mappers.js';
import { REGION_TIMEZONES, localMidnightMs } from '../../domain/local-time.js';
import type { BulkOptions } from '../bulk.js';

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
  /** How concurrent calls are coalesced into the vendor's bulk requests (DEFAULT_BULK when unset). */
  bulk?: BulkOptions;
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
    const body = res.data as OnfleetErrorResponse | undefined;
    const text = body?.message?.message ?? `HTTP ${res.status}`;
    const cause = body?.message?.cause;
    const detail = typeof cause === 'string' ? `${text} ${cause}` : text;
    if (res.status === 429) {
      const header = Number(res.headers['retry-after']);
      const retryAfterMs = Number.isFinite(header) && header > 0 ? header * 1000 : 1000;
      return new ShipsyncError('DISPATCH_RATE_LIMITED', `${operation}: ${detail}`, {
        status: 429,
        retryAfterMs,
      });
    }
    if (res.status >= 500) {
      return new ShipsyncError('DISPATCH_UNAVAILABLE', `${operation}: ${detail}`, { status: res.status });
    }
    if (res.status === 404) {
      return new ShipsyncError('DISPATCH_TASK_NOT_FOUND', `${operation}: ${detail}`, { status: 404, body });
    }
    const field = fieldOf(cause);
    return new ShipsyncError('DISPATCH_REJECTED', `${operation}: ${detail}`, {
      status: res.status,
      body,
      ...(field ? { field } : {}),
    });
  }
  return new ShipsyncError(
    'DISPATCH_UNAVAILABLE',
    `${operation}: ${err instanceof Error ? err.message : String(err)}`,
  );
}

/** shipsync's dispatch port spoken in Onfleet API v2: Basic auth with the API key, metadata-keyed idempotency. */
export class OnfleetDispatchAdapter implements DispatchPort {
  private readonly teamIds = new Map<string, string>();
  private readonly timezones: Record<string, string>;

  constructor(
    private readonly http: AxiosInstance,
    opts: { regionTimezones?: Record<string, string> } = {},
  ) {
    this.timezones = { ...REGION_TIMEZONES, ...opts.regionTimezones };
  }

  /** Finds the task a replay already created (by its shipsyncKey metadata) or creates it in the region's team. */
  async createTask(job: Job, idempotencyKey: string): Promise<DispatchTaskRef> {
    const existing = await this.call('find task by key', () =>
      this.http.post<TaskResponse[]>('/tasks/metadata', [
        { name: 'shipsyncKey', type: 'string', value: idempotencyKey },
      ]),
    );
    const found = existing[0];
    if (found) return { taskId: found.id };
    const teamId = await this.teamFor(job.region);
    const task = await this.call('create task', () =>
      this.http.post<TaskResponse>('/tasks', jobToOnfleetTask(job, idempotencyKey, { teamId })),
    );
    return { taskId: task.id };
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

  /** The Onfleet team of a region: the team whose name is the region code. */
  private async teamFor(region: string): Promise<string> {
    const cached = this.teamIds.get(region);
    if (cached) return cached;
    const teams = await this.call('list teams', () =>
      this.http.get<{ id: string; name: string }[]>('/teams'),
    );
    for (const t of teams) this.teamIds.set(t.name, t.id);
    const id = this.teamIds.get(region);
    if (!id)
      throw new ShipsyncError('DISPATCH_REJECTED', `dispatch has no team for region ${region}`, {
        field: 'region',
      });
    return id;
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
      return (await fn()).data;
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
  return new OnfleetDispatchAdapter(
    http,
    opts.regionTimezones ? { regionTimezones: opts.regionTimezones } : {},
  );
}
