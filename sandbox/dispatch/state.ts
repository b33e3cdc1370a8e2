import { simAt, type ClockSettings } from '../../src/domain/clock.js';
import type { EffectLog } from '../common/effects.js';
import { localDateOf, localMidnightMs } from '../../src/domain/local-time.js';
import {
  TASK_STATE,
  type LngLat,
  type OnfleetAddress,
  type OnfleetErrorName,
  type OnfleetMetadata,
  type OnfleetRecipient,
  type OnfleetTask,
  type OnfleetTeam,
  type OnfleetWorker,
  type TaskContainer,
  type TriggerName,
} from './onfleet.js';
import {
  planRoutes,
  replanAfterChange,
  timeline,
  type PlannerOutput,
  type PlannerTask,
  type PlannerUnassigned,
  type PlannerVehicle,
} from './planner.js';
import type {
  CloneTaskBody,
  CreateTaskBody,
  DispatchBody,
  ListTasksQuery,
  MetadataQueryBody,
  UpdateTaskBody,
} from './requests.js';
import { IdFactory, type SeededOrganization, type WorkerProfile } from './seed.js';
import { failureNote, type DriverSimulator, type SimulatorHost, type StopOutcome } from './simulator.js';
import type { ActionContext, WebhookHub } from './webhooks.js';
import type { z } from 'zod';

/** An Onfleet-shaped failure a state operation reports; the HTTP layer turns it into the error body. */
export class DispatchError extends Error {
  /** Creates the error with the Onfleet error class and the cause string. */
  constructor(
    readonly errorName: OnfleetErrorName,
    readonly detail?: string,
  ) {
    super(detail ?? errorName);
    this.name = 'DispatchError';
  }
}

/** The routes of one team on one local date. */
export interface Plan {
  key: string;
  teamId: string;
  date: string;
  /** Epoch ms of local midnight: planner times are seconds after it. */
  origin: number;
  /** Each worker's task ids in driving order, finished and active stops first. */
  routes: Map<string, string[]>;
  unassigned: PlannerUnassigned[];
  plannedAt: number;
  maxTasksPerRoute: number;
}

/** What a team dispatch reports back (the sandbox adds the plan summary to Onfleet's dispatch id). */
export interface DispatchSummary {
  dispatchId: string;
  team: string;
  date: string;
  routes: number;
  assigned: number;
  unassigned: PlannerUnassigned[];
}

/** A GPS ping of a worker. */
export interface PositionPing {
  workerId: string;
  at: number;
  location: LngLat;
}

/** Below this an ETA change is noise and fires no taskEta. */
const ETA_NOTIFY_MIN_CHANGE_MS = 60_000;
/** While driving, a taskEta goes out only when the ETA moved this much since the last one... */
const DRIVING_ETA_MIN_CHANGE_MS = 120_000;
/** ...and at most once per this simulated interval per task (Onfleet throttles taskEta per task too). */
const DRIVING_ETA_MIN_INTERVAL_MS = 10 * 60_000;
const PAGE_SIZE = 64;
const MAX_POSITIONS = 10_000;
const DEFAULT_MAX_TASKS_PER_ROUTE = 100;
const COMPLETION_METADATA = new Set(['mileageKm', 'liftgate', 'waitingMinutes']);

type Parsed<T extends z.ZodType> = z.infer<T>;

/**
 * The sandbox's dispatch platform: tasks, teams, workers, plans, and the state changes the API and the
 * driver simulator make, each followed by the webhooks Onfleet would send.
 */
export class DispatchState implements SimulatorHost {
  readonly tasks = new Map<string, OnfleetTask>();
  readonly plans = new Map<string, Plan>();
  readonly positions: PositionPing[] = [];
  simulator: DriverSimulator | undefined;
  private readonly order: string[] = [];
  private readonly taskTeam = new Map<string, string>();
  private readonly taskPlan = new Map<string, string>();
  private readonly lastEtaSent = new Map<string, number>();
  private readonly lastEtaSentAt = new Map<string, number>();
  private readonly ids: IdFactory;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly clock: ClockSettings,
    readonly org: SeededOrganization,
    private readonly opts: {
      seed: number;
      effects: EffectLog;
      webhooks: WebhookHub;
      planning: { timeLimitMs: number; maxIterations?: number };
    },
  ) {
    this.ids = new IdFactory(opts.seed ^ 0x7a5c);
  }

  /** Simulated epoch ms now. */
  simNow(): number {
    return simAt(this.clock, Date.now());
  }

  /** Runs state changes one at a time, so a slow plan never interleaves with another write. */
  serialize<T>(fn: () => T): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // --- lookups -------------------------------------------------------------------------------------

  /** A team by id or by name (the region code). */
  team(ref: string): OnfleetTeam | undefined {
    return this.org.teams.find((t) => t.id === ref) ?? this.org.teams.find((t) => t.name === ref);
  }

  /** A worker by id. */
  worker(id: string): OnfleetWorker | undefined {
    return this.org.workers.find((w) => w.id === id);
  }

  /** A task by id. */
  task(id: string): OnfleetTask | undefined {
    return this.tasks.get(id);
  }

  private profile(workerId: string): WorkerProfile {
    const p = this.org.profiles.get(workerId);
    if (!p) throw new Error(`no profile for worker ${workerId}`);
    return p;
  }

  private hubLocation(teamId: string): LngLat {
    const team = this.team(teamId);
    const hub = this.org.hubs.find((h) => h.id === team?.hub);
    if (!hub) throw new Error(`no hub for team ${teamId}`);
    return hub.location;
  }

  private timezone(teamId: string): string {
    return this.org.teamSeeds.get(teamId)?.timezone ?? 'UTC';
  }

  private dateOf(task: OnfleetTask, teamId: string): string {
    const ref =
      task.completeAfter ?? (task.completeBefore !== null ? task.completeBefore - 1 : task.timeCreated);
    return localDateOf(ref, this.timezone(teamId));
  }

  private planKey(teamId: string, date: string): string {
    return `${teamId}|${date}`;
  }

  // --- tasks ---------------------------------------------------------------------------------------

  /** Creates a task; when its team and date are already planned it joins the best route at once. */
  createTask(body: CreateTaskBody, extra: { sourceTaskId?: string } = {}): OnfleetTask {
    const now = this.simNow();
    const location = body.destination.location;
    if (!location) {
      throw new DispatchError(
        'geocoding',
        'destination.location: the sandbox does not geocode; send [longitude, latitude]',
      );
    }
    checkWindow(body.completeAfter ?? null, body.completeBefore ?? null);
    const teamId = this.resolveTeam(body.container, location);
    const id = this.ids.next();
    const shortId = this.ids.shortId();
    const task: OnfleetTask = {
      id,
      timeCreated: now,
      timeLastModified: now,
      organization: this.org.organizationId,
      shortId,
      trackingURL: `https://onf.lt/${shortId}`,
      worker: null,
      merchant: this.org.organizationId,
      executor: this.org.organizationId,
      creator: this.org.adminId,
      dependencies: [],
      state: TASK_STATE.unassigned,
      completeAfter: body.completeAfter ?? null,
      completeBefore: body.completeBefore ?? null,
      pickupTask: body.pickupTask ?? false,
      notes: body.notes ?? '',
      completionDetails: emptyCompletion(),
      feedback: [],
      metadata: (body.metadata ?? []).map(normaliseMetadata),
      overrides: {
        ...(body.recipientName === undefined ? {} : { recipientName: body.recipientName }),
        ...(body.recipientNotes === undefined ? {} : { recipientNotes: body.recipientNotes }),
      },
      quantity: body.quantity ?? 0,
      serviceTime: body.serviceTime ?? 0,
      container: { type: 'TEAM', team: teamId },
      recipients: (body.recipients ?? []).map((r) => this.recipient(r, now)),
      destination: {
        id: this.ids.next(),
        timeCreated: now,
        timeLastModified: now,
        location,
        address: address(body.destination.address),
        notes: body.destination.notes ?? '',
        metadata: [],
      },
      requirements: body.requirements ?? {},
      estimatedArrivalTime: null,
      estimatedCompletionTime: null,
      eta: null,
      delayTime: null,
      trackingViewed: false,
      ...(extra.sourceTaskId === undefined ? {} : { sourceTaskId: extra.sourceTaskId }),
    };
    this.tasks.set(id, task);
    this.order.push(id);
    this.taskTeam.set(id, teamId);
    const key = metadataValue(task, 'shipsyncKey');
    this.opts.effects.record('task.created', typeof key === 'string' ? key : `task:${id}`, id, {
      shipmentId: metadataValue(task, 'shipmentId'),
      attempt: metadataValue(task, 'attempt'),
      team: this.team(teamId)?.name,
    });
    this.publish('taskCreated', task, now, this.admin());
    if (extra.sourceTaskId !== undefined) this.publish('taskCloned', task, now, this.admin());
    const plan = this.plans.get(this.planKey(teamId, this.dateOf(task, teamId)));
    if (plan) this.insertIntoPlan(plan, id);
    return task;
  }

  /** A task or a 404. */
  getTask(id: string): OnfleetTask {
    const task = this.tasks.get(id);
    if (!task) throw new DispatchError('notFound', `task ${id} does not exist`);
    return task;
  }

  /** A task by its short id or a 404. */
  getTaskByShortId(shortId: string): OnfleetTask {
    const task = [...this.tasks.values()].find((t) => t.shortId === shortId);
    if (!task) throw new DispatchError('notFound', `task ${shortId} does not exist`);
    return task;
  }

  /** Updates a task; a new window or destination re-plans its route and the answer carries the new ETA. */
  updateTask(id: string, body: UpdateTaskBody): OnfleetTask {
    const task = this.getTask(id);
    if (task.state === TASK_STATE.completed)
      throw new DispatchError('invalidArgument', 'state: a completed task cannot be updated');
    const after = body.completeAfter === undefined ? task.completeAfter : body.completeAfter;
    const before = body.completeBefore === undefined ? task.completeBefore : body.completeBefore;
    checkWindow(after, before);
    if (body.destination && !body.destination.location) {
      throw new DispatchError(
        'geocoding',
        'destination.location: the sandbox does not geocode; send [longitude, latitude]',
      );
    }
    const now = this.simNow();
    const windowChanged = after !== task.completeAfter || before !== task.completeBefore;
    let replan = windowChanged;
    task.completeAfter = after;
    task.completeBefore = before;
    if (body.destination?.location) {
      const moved =
        body.destination.location[0] !== task.destination.location[0] ||
        body.destination.location[1] !== task.destination.location[1];
      replan ||= moved;
      task.destination = {
        ...task.destination,
        timeLastModified: now,
        location: body.destination.location,
        address: address(body.destination.address),
        notes: body.destination.notes ?? task.destination.notes,
      };
    }
    if (body.recipients) task.recipients = body.recipients.map((r) => this.recipient(r, now));
    if (body.quantity !== undefined && body.quantity !== task.quantity) {
      task.quantity = body.quantity;
      replan = true;
    }
    if (body.serviceTime !== undefined && body.serviceTime !== task.serviceTime) {
      task.serviceTime = body.serviceTime;
      replan = true;
    }
    if (body.notes !== undefined) task.notes = body.notes;
    if (body.requirements) task.requirements = body.requirements;
    if (body.metadata) {
      const before = skillsOf(task).join(',');
      task.metadata = body.metadata.map(normaliseMetadata);
      replan ||= skillsOf(task).join(',') !== before;
    }
    if (windowChanged) task.delayTime = null;
    task.timeLastModified = now;
    this.publish('taskUpdated', task, now, this.admin());
    if (replan && task.state !== TASK_STATE.active) this.replanChangedTask(task);
    return task;
  }

  /** Deletes a task that has not been completed; its route closes the gap. */
  deleteTask(id: string): void {
    const task = this.getTask(id);
    if (task.state === TASK_STATE.completed)
      throw new DispatchError('invalidArgument', 'state: a completed task cannot be deleted');
    const now = this.simNow();
    const planKey = this.taskPlan.get(id);
    const workerId = task.worker;
    this.tasks.delete(id);
    this.order.splice(this.order.indexOf(id), 1);
    this.taskPlan.delete(id);
    this.lastEtaSent.delete(id);
    this.lastEtaSentAt.delete(id);
    if (workerId) this.detachFromWorker(workerId, id);
    const plan = planKey ? this.plans.get(planKey) : undefined;
    if (plan && workerId) {
      const route = plan.routes.get(workerId) ?? [];
      plan.routes.set(
        workerId,
        route.filter((t) => t !== id),
      );
      this.retime(plan, workerId);
    }
    this.opts.effects.record('task.deleted', id, id, { shipmentId: metadataValue(task, 'shipmentId') });
    this.publish('taskDeleted', task, now, this.admin());
  }

  /** Clones a task (metadata included unless told otherwise), with overrides. */
  cloneTask(id: string, body: Parsed<typeof CloneTaskBody>): OnfleetTask {
    const src = this.getTask(id);
    const o = body.overrides ?? {};
    const includeMetadata = body.includeMetadata ?? true;
    const create: CreateTaskBody = {
      destination: o.destination ?? {
        address: { ...src.destination.address },
        location: src.destination.location,
        notes: src.destination.notes,
      },
      recipients:
        o.recipients ??
        src.recipients.map((r) => ({
          name: r.name,
          phone: r.phone,
          notes: r.notes,
          skipSMSNotifications: r.skipSMSNotifications,
        })),
      quantity: src.quantity,
      serviceTime: o.serviceTime ?? src.serviceTime,
      notes: o.notes ?? src.notes,
      metadata:
        o.metadata ?? (includeMetadata ? src.metadata.filter((m) => !COMPLETION_METADATA.has(m.name)) : []),
      requirements: src.requirements,
      pickupTask: o.pickupTask ?? src.pickupTask,
      container: { type: 'TEAM', team: this.taskTeam.get(id) ?? this.org.teams[0]!.id },
    };
    const after = o.completeAfter ?? src.completeAfter;
    const before = o.completeBefore ?? src.completeBefore;
    if (after !== null) create.completeAfter = after;
    if (before !== null) create.completeBefore = before;
    return this.createTask(create, { sourceTaskId: id });
  }

  /** Tasks whose metadata holds every queried entry (Onfleet's POST /tasks/metadata). */
  queryMetadata(query: Parsed<typeof MetadataQueryBody>): OnfleetTask[] {
    return this.order
      .map((id) => this.tasks.get(id)!)
      .filter((task) =>
        query.every((q) =>
          task.metadata.some(
            (m) =>
              m.name === q.name && (q.type === undefined || q.type === m.type) && deepEqual(m.value, q.value),
          ),
        ),
      );
  }

  /** One page of tasks created or completed in a time range, oldest first; lastId points at the next page. */
  listTasks(query: Parsed<typeof ListTasksQuery>): { tasks: OnfleetTask[]; lastId?: string } {
    const states = query.state ? new Set(query.state.split(',').map(Number)) : undefined;
    const matching = this.order
      .map((id) => this.tasks.get(id)!)
      .filter((t) => {
        const inRange = t.timeCreated >= query.from || (t.completionDetails.time ?? -1) >= query.from;
        const beforeEnd = query.to === undefined || t.timeCreated <= query.to;
        return (
          inRange &&
          beforeEnd &&
          (!states || states.has(t.state)) &&
          (!query.worker || t.worker === query.worker)
        );
      });
    let start = 0;
    if (query.lastId) {
      const index = matching.findIndex((t) => t.id === query.lastId);
      if (index < 0) throw new DispatchError('invalidArgument', 'lastId: not a task of this listing');
      start = index + 1;
    }
    const page = matching.slice(start, start + PAGE_SIZE);
    const more = start + PAGE_SIZE < matching.length;
    return more ? { tasks: page, lastId: page[page.length - 1]!.id } : { tasks: page };
  }

  // --- planning ------------------------------------------------------------------------------------

  /** Team auto-dispatch: plans the team's open tasks of one local date onto its drivers. */
  dispatchTeam(teamId: string, body: Parsed<typeof DispatchBody>): DispatchSummary {
    const team = this.team(teamId);
    if (!team) throw new DispatchError('notFound', `team ${teamId} does not exist`);
    const tz = this.timezone(team.id);
    const now = this.simNow();
    const date = localDateOf(body.taskTimeWindow ? body.taskTimeWindow[0] * 1000 : now, tz);
    const key = this.planKey(team.id, date);
    const plan: Plan = this.plans.get(key) ?? {
      key,
      teamId: team.id,
      date,
      origin: localMidnightMs(date, tz),
      routes: new Map(),
      unassigned: [],
      plannedAt: now,
      maxTasksPerRoute: DEFAULT_MAX_TASKS_PER_ROUTE,
    };
    plan.maxTasksPerRoute = body.maxTasksPerRoute ?? plan.maxTasksPerRoute;
    plan.plannedAt = now;
    const vehicles = this.vehicles(plan, body.scheduleTimeWindow);
    const available = new Set(vehicles.map((v) => v.workerId));
    const candidates = [...this.tasks.values()].filter(
      (t) =>
        this.taskTeam.get(t.id) === team.id &&
        (t.state === TASK_STATE.unassigned || t.state === TASK_STATE.assigned) &&
        this.dateOf(t, team.id) === date,
    );
    for (const t of candidates) {
      const otherPlan = this.taskPlan.get(t.id);
      if (otherPlan && otherPlan !== key) this.leavePlan(t);
      if (t.serviceTime === 0 && body.serviceTime !== undefined) t.serviceTime = body.serviceTime;
    }
    const plannerTasks = candidates.map((t) =>
      this.plannerTask(t, plan.origin, t.worker !== null && available.has(t.worker) ? t.worker : undefined),
    );
    const out = planRoutes(plannerTasks, vehicles, this.plannerOptions(date));
    this.plans.set(key, plan);
    this.apply(
      plan,
      out,
      candidates.map((t) => t.id),
      vehicles.map((v) => v.workerId),
    );
    return {
      dispatchId: this.ids.next(),
      team: team.id,
      date,
      routes: out.routes.length,
      assigned: out.routes.reduce((n, r) => n + r.stops.length, 0),
      unassigned: out.unassigned,
    };
  }

  /** The vehicles of a plan's team as they stand now: finished stops behind them, capacity left, shift left. */
  private vehicles(plan: Plan, scheduleWindow?: [number, number]): PlannerVehicle[] {
    const team = this.team(plan.teamId)!;
    const hub = this.hubLocation(plan.teamId);
    const nowSec = (this.simNow() - plan.origin) / 1000;
    const vehicles: PlannerVehicle[] = [];
    for (const workerId of team.workers) {
      const profile = this.profile(workerId);
      const fixed = this.fixedStops(plan, workerId);
      let start = hub;
      let from = profile.shiftStartSec;
      for (const f of fixed) {
        start = f.destination.location;
        const end =
          f.state === TASK_STATE.completed
            ? (f.completionDetails.time ?? plan.origin)
            : (f.estimatedCompletionTime ?? this.simNow());
        from = Math.max(from, (end - plan.origin) / 1000);
      }
      from = Math.ceil(Math.max(from, nowSec));
      let until = profile.shiftEndSec;
      if (scheduleWindow) {
        from = Math.max(from, Math.ceil((scheduleWindow[0] * 1000 - plan.origin) / 1000));
        until = Math.min(until, Math.floor((scheduleWindow[1] * 1000 - plan.origin) / 1000));
      }
      if (from >= until) continue;
      vehicles.push({
        workerId,
        start,
        end: hub,
        capacity: Math.max(0, profile.capacity - fixed.reduce((s, f) => s + f.quantity, 0)),
        maxTasks: Math.max(0, plan.maxTasksPerRoute - fixed.length),
        window: [from, until],
        skills: [...profile.skills],
      });
    }
    return vehicles;
  }

  /** Stops of a worker's route that are done or under way: they stay where they are. */
  private fixedStops(plan: Plan, workerId: string): OnfleetTask[] {
    return (plan.routes.get(workerId) ?? [])
      .map((id) => this.tasks.get(id))
      .filter((t): t is OnfleetTask => t !== undefined && t.state >= TASK_STATE.active);
  }

  /** Stops of a worker's route still to be driven, in order. */
  private pendingStops(plan: Plan, workerId: string): OnfleetTask[] {
    return (plan.routes.get(workerId) ?? [])
      .map((id) => this.tasks.get(id))
      .filter(
        (t): t is OnfleetTask => t !== undefined && t.state === TASK_STATE.assigned && t.worker === workerId,
      );
  }

  private plannerTask(task: OnfleetTask, origin: number, pinnedTo?: string): PlannerTask {
    const twoDays = 2 * 86_400;
    const start = task.completeAfter === null ? 0 : Math.ceil((task.completeAfter - origin) / 1000);
    const end = task.completeBefore === null ? twoDays : Math.floor((task.completeBefore - origin) / 1000);
    return {
      taskId: task.id,
      location: task.destination.location,
      serviceSeconds: Math.round(task.serviceTime * 60),
      quantity: task.quantity,
      window: [start, end],
      skills: skillsOf(task),
      ...(pinnedTo === undefined ? {} : { pinnedTo }),
    };
  }

  private plannerOptions(date: string) {
    return {
      timeLimitMs: this.opts.planning.timeLimitMs,
      seed: (this.opts.seed ^ hashDate(date)) >>> 0,
      ...(this.opts.planning.maxIterations === undefined
        ? {}
        : { maxIterations: this.opts.planning.maxIterations }),
    };
  }

  /** Puts a new or changed task into an existing plan at its cheapest feasible place. */
  private insertIntoPlan(plan: Plan, taskId: string): void {
    const task = this.tasks.get(taskId)!;
    const vehicles = this.vehicles(plan);
    const current = vehicles.map((v) => ({
      workerId: v.workerId,
      taskIds: this.pendingStops(plan, v.workerId).map((t) => t.id),
    }));
    const pending = current.flatMap((c) => c.taskIds).filter((id) => id !== taskId);
    const tasks = [...pending.map((id) => this.tasks.get(id)!), task].map((t) =>
      this.plannerTask(t, plan.origin),
    );
    const out = replanAfterChange(tasks, vehicles, current, taskId, this.plannerOptions(plan.date));
    this.apply(
      plan,
      out,
      [...pending, taskId],
      vehicles.map((v) => v.workerId),
      taskId,
    );
  }

  /** After a change of window, destination, load or skills: re-plan within its plan, or move it to another day's plan. */
  private replanChangedTask(task: OnfleetTask): void {
    const teamId = this.taskTeam.get(task.id)!;
    const newKey = this.planKey(teamId, this.dateOf(task, teamId));
    const oldKey = this.taskPlan.get(task.id);
    if (oldKey && oldKey !== newKey) this.leavePlan(task);
    const plan = this.plans.get(newKey);
    if (plan) this.insertIntoPlan(plan, task.id);
  }

  /** Takes a task out of its plan: the route closes the gap, the task becomes unassigned. */
  private leavePlan(task: OnfleetTask): void {
    const key = this.taskPlan.get(task.id);
    const plan = key ? this.plans.get(key) : undefined;
    const workerId = task.worker;
    this.taskPlan.delete(task.id);
    if (plan && workerId) {
      plan.routes.set(
        workerId,
        (plan.routes.get(workerId) ?? []).filter((id) => id !== task.id),
      );
      this.unassign(task);
      this.publish('taskUnassigned', task, this.simNow(), this.admin());
      this.retime(plan, workerId);
    }
  }

  /** Recomputes the times of a worker's remaining stops in their present order. */
  private retime(plan: Plan, workerId: string): void {
    const vehicle = this.vehicles(plan).find((v) => v.workerId === workerId);
    const pending = this.pendingStops(plan, workerId);
    if (!vehicle || pending.length === 0) return;
    const route = timeline(
      vehicle,
      pending.map((t) => this.plannerTask(t, plan.origin)),
    );
    this.apply(
      plan,
      { routes: [route], unassigned: [] },
      pending.map((t) => t.id),
      [workerId],
    );
  }

  /**
   * Adopts a planner answer for some workers' routes: assigns, re-times or unassigns the involved tasks,
   * then sends taskAssigned / taskEta / taskUnassigned once the state is final.
   */
  private apply(
    plan: Plan,
    out: PlannerOutput,
    involved: string[],
    workers: string[],
    explicit?: string,
  ): void {
    const now = this.simNow();
    const placed = new Map<string, { workerId: string; serviceStart: number; departure: number }>();
    for (const route of out.routes)
      for (const s of route.stops) placed.set(s.taskId, { workerId: route.workerId, ...s });
    const touched = new Set(workers);
    for (const workerId of touched) {
      const before = plan.routes.get(workerId) ?? [];
      for (const id of before)
        if (!involved.includes(id) && this.tasks.get(id)?.state === TASK_STATE.assigned) involved.push(id);
      const route = out.routes.find((r) => r.workerId === workerId);
      const next = [
        ...this.fixedStops(plan, workerId).map((t) => t.id),
        ...(route?.stops.map((s) => s.taskId) ?? []),
      ];
      if (next.length > 0) plan.routes.set(workerId, next);
      else plan.routes.delete(workerId);
    }
    const events: [TriggerName, OnfleetTask][] = [];
    for (const id of new Set(involved)) {
      const task = this.tasks.get(id);
      if (!task || task.state >= TASK_STATE.active) continue;
      const p = placed.get(id);
      if (!p) {
        if (task.worker !== null && touched.has(task.worker)) {
          this.unassign(task);
          events.push(['taskUnassigned', task]);
        }
        if (this.taskPlan.get(id) === plan.key) this.taskPlan.delete(id);
        continue;
      }
      const eta = Math.round(plan.origin + p.serviceStart * 1000);
      const previousWorker = task.worker;
      const previousEta = task.estimatedArrivalTime;
      if (previousWorker && previousWorker !== p.workerId) this.detachFromWorker(previousWorker, id);
      task.worker = p.workerId;
      task.state = TASK_STATE.assigned;
      task.container = { type: 'WORKER', worker: p.workerId };
      task.estimatedArrivalTime = eta;
      task.estimatedCompletionTime = Math.round(plan.origin + p.departure * 1000);
      task.eta = eta;
      task.timeLastModified = now;
      this.taskPlan.set(id, plan.key);
      const worker = this.worker(p.workerId)!;
      if (!worker.tasks.includes(id)) worker.tasks.push(id);
      if (previousWorker !== p.workerId) events.push(['taskAssigned', task]);
      else if (
        previousEta !== eta &&
        (id === explicit || Math.abs((previousEta ?? 0) - eta) >= ETA_NOTIFY_MIN_CHANGE_MS)
      ) {
        events.push(['taskEta', task]);
      }
    }
    const placedIds = new Set(placed.keys());
    plan.unassigned = [
      ...plan.unassigned.filter(
        (u) => !involved.includes(u.taskId) && this.tasks.has(u.taskId) && !placedIds.has(u.taskId),
      ),
      ...out.unassigned,
    ];
    for (const [trigger, task] of events) {
      const worker = task.worker ? this.worker(task.worker) : undefined;
      this.publish(trigger, task, now, this.admin(), {
        worker,
        ...(trigger === 'taskEta' && task.estimatedArrivalTime !== null
          ? { etaSeconds: Math.max(0, Math.round((task.estimatedArrivalTime - now) / 1000)) }
          : {}),
      });
      if (trigger === 'taskEta' && task.estimatedArrivalTime !== null)
        this.lastEtaSent.set(task.id, task.estimatedArrivalTime);
    }
    for (const workerId of touched)
      if (plan.routes.has(workerId)) this.simulator?.routeChanged(plan.key, workerId);
  }

  private unassign(task: OnfleetTask): void {
    if (task.worker) this.detachFromWorker(task.worker, task.id);
    task.worker = null;
    task.state = TASK_STATE.unassigned;
    task.container = { type: 'TEAM', team: this.taskTeam.get(task.id)! };
    task.estimatedArrivalTime = null;
    task.estimatedCompletionTime = null;
    task.eta = null;
    task.timeLastModified = this.simNow();
  }

  private detachFromWorker(workerId: string, taskId: string): void {
    const worker = this.worker(workerId);
    if (!worker) return;
    worker.tasks = worker.tasks.filter((t) => t !== taskId);
    if (worker.activeTask === taskId) worker.activeTask = null;
  }

  private resolveTeam(container: TaskContainer | undefined, location: LngLat): string {
    if (container?.type === 'TEAM') {
      const team = this.team(container.team);
      if (!team)
        throw new DispatchError('invalidArgument', `container.team: team ${container.team} does not exist`);
      return team.id;
    }
    if (container?.type === 'WORKER') {
      const worker = this.worker(container.worker);
      if (!worker)
        throw new DispatchError(
          'invalidArgument',
          `container.worker: worker ${container.worker} does not exist`,
        );
      return worker.teams[0]!;
    }
    // Without a team the task goes to the team of the nearest hub, so plain Onfleet clients still get routed.
    let best = this.org.teams[0]!.id;
    let bestDistance = Infinity;
    for (const team of this.org.teams) {
      const hub = this.hubLocation(team.id);
      const d = (hub[0] - location[0]) ** 2 + (hub[1] - location[1]) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = team.id;
      }
    }
    return best;
  }

  private recipient(
    r: {
      name: string;
      phone: string;
      notes?: string | undefined;
      skipSMSNotifications?: boolean | undefined;
    },
    now: number,
  ): OnfleetRecipient {
    return {
      id: this.ids.next(),
      organization: this.org.organizationId,
      timeCreated: now,
      timeLastModified: now,
      name: r.name,
      phone: r.phone.startsWith('+') ? r.phone : `+${r.phone}`,
      notes: r.notes ?? '',
      skipSMSNotifications: r.skipSMSNotifications ?? false,
      metadata: [],
    };
  }

  private admin(): ActionContext {
    return { type: 'ADMIN', id: this.org.adminId };
  }

  private publish(
    trigger: TriggerName,
    task: OnfleetTask | undefined,
    time: number,
    actionContext: ActionContext,
    extra: {
      worker?: OnfleetWorker | undefined;
      etaSeconds?: number;
      distance?: number;
      status?: number;
    } = {},
  ): void {
    this.opts.webhooks.publish({ trigger, task, time, actionContext, ...extra });
  }

  // --- inspection ----------------------------------------------------------------------------------

  /** The plan of a team (id or name) and date, stop by stop, or a summary of every plan. */
  routesView(teamRef?: string, date?: string): unknown {
    if (teamRef === undefined || date === undefined) {
      return {
        plans: [...this.plans.values()].map((p) => ({
          team: this.team(p.teamId)?.name,
          teamId: p.teamId,
          date: p.date,
          routes: p.routes.size,
          stops: [...p.routes.values()].reduce((n, r) => n + r.length, 0),
          unassigned: p.unassigned.length,
        })),
      };
    }
    const team = this.team(teamRef);
    if (!team) throw new DispatchError('notFound', `team ${teamRef} does not exist`);
    const plan = this.plans.get(this.planKey(team.id, date));
    return {
      team: team.name,
      teamId: team.id,
      date,
      planned: plan !== undefined,
      plannedAt: plan ? new Date(plan.plannedAt).toISOString() : null,
      routes: plan
        ? [...plan.routes.entries()].map(([workerId, ids]) => {
            const worker = this.worker(workerId)!;
            return {
              worker: workerId,
              workerName: worker.name,
              vehicle: worker.vehicle.id,
              capacity: worker.capacity,
              stops: ids.flatMap((id, sequence) => {
                const t = this.tasks.get(id);
                if (!t) return [];
                return [
                  {
                    taskId: id,
                    sequence,
                    state: t.state,
                    shipmentId: metadataValue(t, 'shipmentId') ?? null,
                    eta:
                      t.estimatedArrivalTime === null ? null : new Date(t.estimatedArrivalTime).toISOString(),
                    etaMs: t.estimatedArrivalTime,
                    completeAfter: t.completeAfter,
                    completeBefore: t.completeBefore,
                    location: t.destination.location,
                    quantity: t.quantity,
                  },
                ];
              }),
            };
          })
        : [],
      unassigned: plan?.unassigned ?? [],
    };
  }

  /** Tasks whose shipmentId metadata matches, or every task. */
  tasksOfShipment(shipmentId?: string): OnfleetTask[] {
    return this.order
      .map((id) => this.tasks.get(id)!)
      .filter((t) => shipmentId === undefined || metadataValue(t, 'shipmentId') === shipmentId);
  }

  // --- SimulatorHost -------------------------------------------------------------------------------

  /** Every route with stops still to drive. */
  routesWithWork(): { planKey: string; workerId: string }[] {
    const out: { planKey: string; workerId: string }[] = [];
    for (const plan of this.plans.values()) {
      for (const [workerId, ids] of plan.routes) {
        if (ids.some((id) => (this.tasks.get(id)?.state ?? 3) < TASK_STATE.completed))
          out.push({ planKey: plan.key, workerId });
      }
    }
    return out;
  }

  /** A route's task ids in driving order. */
  routeTasks(planKey: string, workerId: string): string[] | undefined {
    return this.plans.get(planKey)?.routes.get(workerId);
  }

  /** When and where a route starts. */
  routeFrame(planKey: string, workerId: string): { shiftStart: number; depot: LngLat } | undefined {
    const plan = this.plans.get(planKey);
    if (!plan) return undefined;
    return {
      shiftStart: plan.origin + this.profile(workerId).shiftStartSec * 1000,
      depot: this.hubLocation(plan.teamId),
    };
  }

  /** The driver heads to a stop. */
  startTask(taskId: string, workerId: string, at: number, eta: number, location: LngLat): void {
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.worker !== workerId) return;
    task.state = TASK_STATE.active;
    task.estimatedArrivalTime = eta;
    task.eta = eta;
    task.completionDetails.firstLocation = location;
    task.completionDetails.events.push({ name: 'start', time: at, location });
    task.timeLastModified = at;
    worker.activeTask = taskId;
    this.moveWorker(workerId, at, location, true);
    this.lastEtaSent.set(taskId, eta);
    this.lastEtaSentAt.set(taskId, at);
    this.publish('taskStarted', task, at, { type: 'WORKER', id: workerId }, { worker });
  }

  /** A GPS ping; sends taskEta when the ETA moved a minute or more and taskDelayed once when it passes the window. */
  ping(taskId: string, workerId: string, at: number, location: LngLat, eta: number): void {
    this.moveWorker(workerId, at, location, true);
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.state !== TASK_STATE.active || task.worker !== workerId) return;
    const last = this.lastEtaSent.get(taskId);
    const lastAt = this.lastEtaSentAt.get(taskId) ?? -Infinity;
    if (
      last === undefined ||
      (Math.abs(eta - last) >= DRIVING_ETA_MIN_CHANGE_MS && at - lastAt >= DRIVING_ETA_MIN_INTERVAL_MS)
    ) {
      task.estimatedArrivalTime = eta;
      task.eta = eta;
      task.timeLastModified = at;
      this.lastEtaSent.set(taskId, eta);
      this.lastEtaSentAt.set(taskId, at);
      this.publish(
        'taskEta',
        task,
        at,
        { type: 'WORKER', id: workerId },
        { worker, etaSeconds: Math.max(0, Math.round((eta - at) / 1000)) },
      );
    }
    this.noticeDelay(task, worker, at, eta);
  }

  /** The driver reaches the stop. */
  arrive(taskId: string, workerId: string, at: number, location: LngLat): void {
    this.moveWorker(workerId, at, location, true);
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.state !== TASK_STATE.active || task.worker !== workerId) return;
    this.noticeDelay(task, worker, at, at);
    task.estimatedArrivalTime = at;
    task.eta = at;
    task.completionDetails.events.push({ name: 'arrival', time: at, location });
    task.timeLastModified = at;
    this.publish('taskArrival', task, at, { type: 'WORKER', id: workerId }, { worker, distance: 12 });
  }

  /** The stop ends with proof of delivery or a failure reason; mileage and accessorials go into metadata. */
  finish(taskId: string, workerId: string, o: StopOutcome): void {
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.state !== TASK_STATE.active || task.worker !== workerId) return;
    const success = o.decision.outcome === 'completed';
    const d = task.completionDetails;
    d.success = success;
    d.time = o.at;
    d.lastLocation = o.location;
    d.distance = o.legMeters;
    d.events.push({ name: 'departure', time: o.at, location: o.location });
    if (success) {
      d.notes = task.requirements.signature === false ? 'Delivered.' : 'Delivered and signed for.';
      d.failureReason = 'NONE';
      if (task.requirements.signature !== false) d.signatureUploadId = o.decision.signatureUploadId;
      d.photoUploadIds = o.decision.photoUploadIds;
      d.photoUploadId = o.decision.photoUploadIds[0]!;
    } else {
      d.failureReason = o.decision.failureReason;
      d.failureNotes = failureNote(o.decision.failureReason);
      d.notes = d.failureNotes;
      if (o.decision.failureReason === 'DAMAGED') {
        d.photoUploadIds = o.decision.photoUploadIds;
        d.photoUploadId = o.decision.photoUploadIds[0]!;
      }
    }
    upsertMetadata(task, {
      name: 'mileageKm',
      type: 'number',
      value: Math.round(o.legMeters / 100) / 10,
      visibility: ['api'],
    });
    upsertMetadata(task, { name: 'liftgate', type: 'boolean', value: o.liftgateUsed, visibility: ['api'] });
    upsertMetadata(task, {
      name: 'waitingMinutes',
      type: 'number',
      value: o.decision.waitingMinutes,
      visibility: ['api'],
    });
    task.state = TASK_STATE.completed;
    task.estimatedCompletionTime = o.at;
    task.timeLastModified = o.at;
    this.detachFromWorker(workerId, taskId);
    this.moveWorker(workerId, o.at, o.location, true);
    this.opts.effects.record(success ? 'task.completed' : 'task.failed', taskId, taskId, {
      shipmentId: metadataValue(task, 'shipmentId'),
      failureReason: d.failureReason,
    });
    this.publish(
      success ? 'taskCompleted' : 'taskFailed',
      task,
      o.at,
      { type: 'WORKER', id: workerId },
      { worker },
    );
  }

  /** Moves a worker (GPS position, duty status); duty changes send workerDuty. */
  moveWorker(workerId: string, at: number, location: LngLat, onDuty: boolean): void {
    const worker = this.worker(workerId);
    if (!worker) return;
    worker.location = location;
    worker.timeLastSeen = at;
    worker.isResponding = onDuty;
    this.positions.push({ workerId, at, location });
    if (this.positions.length > MAX_POSITIONS)
      this.positions.splice(0, this.positions.length - MAX_POSITIONS);
    if (worker.onDuty !== onDuty) {
      worker.onDuty = onDuty;
      worker.timeLastModified = at;
      this.publish(
        'workerDuty',
        undefined,
        at,
        { type: 'WORKER', id: workerId },
        { worker, status: onDuty ? 1 : 0 },
      );
    }
  }

  private noticeDelay(task: OnfleetTask, worker: OnfleetWorker, at: number, eta: number): void {
    if (task.completeBefore === null || task.delayTime !== null || eta <= task.completeBefore) return;
    task.delayTime = Math.round((eta - task.completeBefore) / 1000);
    task.estimatedArrivalTime = eta;
    task.eta = eta;
    this.publish('taskDelayed', task, at, { type: 'WORKER', id: worker.id }, { worker });
  }
}

function checkWindow(after: number | null, before: number | null): void {
  if (after !== null && before !== null && after >= before) {
    throw new DispatchError('invalidTime', 'completeBefore: must be later than completeAfter');
  }
}

function emptyCompletion(): OnfleetTask['completionDetails'] {
  return {
    success: false,
    time: null,
    notes: '',
    failureReason: 'NONE',
    failureNotes: '',
    events: [],
    actions: [],
    firstLocation: [],
    lastLocation: [],
    unavailableAttachments: [],
  };
}

function address(a: {
  number?: string | undefined;
  street?: string | undefined;
  apartment?: string | undefined;
  city?: string | undefined;
  state?: string | undefined;
  postalCode?: string | undefined;
  country?: string | undefined;
  name?: string | undefined;
  unparsed?: string | undefined;
}): OnfleetAddress {
  return {
    number: a.number ?? '',
    street: a.street ?? '',
    apartment: a.apartment ?? '',
    city: a.city ?? '',
    state: a.state ?? '',
    postalCode: a.postalCode ?? '',
    country: a.country ?? 'United States',
    ...(a.name === undefined ? {} : { name: a.name }),
    ...(a.unparsed === undefined ? {} : { unparsed: a.unparsed }),
  };
}

function normaliseMetadata(m: {
  name: string;
  type: OnfleetMetadata['type'];
  value?: unknown;
  visibility?: OnfleetMetadata['visibility'] | undefined;
}): OnfleetMetadata {
  return { name: m.name, type: m.type, value: m.value, visibility: m.visibility ?? ['api'] };
}

function upsertMetadata(task: OnfleetTask, entry: OnfleetMetadata): void {
  const index = task.metadata.findIndex((m) => m.name === entry.name);
  if (index >= 0) task.metadata[index] = entry;
  else task.metadata.push(entry);
}

/** The value of a metadata entry, or undefined. */
export function metadataValue(task: OnfleetTask, name: string): unknown {
  return task.metadata.find((m) => m.name === name)?.value;
}

/** Vehicle skills a task needs, from its liftgate / hazmat metadata. */
function skillsOf(task: OnfleetTask): string[] {
  const skills: string[] = [];
  if (metadataValue(task, 'liftgate') === true && task.state !== TASK_STATE.completed)
    skills.push('liftgate');
  if (metadataValue(task, 'hazmat') === true) skills.push('hazmat');
  return skills;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function hashDate(date: string): number {
  let h = 0;
  for (let i = 0; i < date.length; i++) h = (Math.imul(h, 31) + date.charCodeAt(i)) | 0;
  return h;
}
