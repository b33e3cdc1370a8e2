import { localDateOf, localMidnightMs } from '../../../src/domain/local-time.js';
import { TASK_STATE, type OnfleetTask, type TriggerName } from '../onfleet.js';
import {
  planRoutes,
  replanAfterChange,
  timeline,
  type PlannerOutput,
  type PlannerTask,
  type PlannerVehicle,
} from '../planner.js';
import type { DispatchBody } from '../requests.js';
import { hashDate, skillsOf } from './fields.js';
import {
  DEFAULT_MAX_TASKS_PER_ROUTE,
  ETA_NOTIFY_MIN_CHANGE_MS,
  DispatchError,
  DispatchStore,
  type DispatchSummary,
  type Parsed,
  type Plan,
} from './store.js';

/** Route planning: team dispatch, insertion of new and changed tasks, re-timing, assignment. */
export class DispatchPlanning extends DispatchStore {
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
  protected vehicles(plan: Plan, scheduleWindow?: [number, number]): PlannerVehicle[] {
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
  protected fixedStops(plan: Plan, workerId: string): OnfleetTask[] {
    return (plan.routes.get(workerId) ?? [])
      .map((id) => this.tasks.get(id))
      .filter((t): t is OnfleetTask => t !== undefined && t.state >= TASK_STATE.active);
  }

  /** Stops of a worker's route still to be driven, in order. */
  protected pendingStops(plan: Plan, workerId: string): OnfleetTask[] {
    return (plan.routes.get(workerId) ?? [])
      .map((id) => this.tasks.get(id))
      .filter(
        (t): t is OnfleetTask => t !== undefined && t.state === TASK_STATE.assigned && t.worker === workerId,
      );
  }

  protected plannerTask(task: OnfleetTask, origin: number, pinnedTo?: string): PlannerTask {
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

  protected plannerOptions(date: string) {
    return {
      timeLimitMs: this.opts.planning.timeLimitMs,
      seed: (this.opts.seed ^ hashDate(date)) >>> 0,
      ...(this.opts.planning.maxIterations === undefined
        ? {}
        : { maxIterations: this.opts.planning.maxIterations }),
    };
  }

  /** Puts a new or changed task into an existing plan at its cheapest feasible place. */
  protected insertIntoPlan(plan: Plan, taskId: string): void {
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
  protected replanChangedTask(task: OnfleetTask): void {
    const teamId = this.taskTeam.get(task.id)!;
    const newKey = this.planKey(teamId, this.dateOf(task, teamId));
    const oldKey = this.taskPlan.get(task.id);
    if (oldKey && oldKey !== newKey) this.leavePlan(task);
    const plan = this.plans.get(newKey);
    if (plan) this.insertIntoPlan(plan, task.id);
  }

  /** Takes a task out of its plan: the route closes the gap, the task becomes unassigned. */
  protected leavePlan(task: OnfleetTask): void {
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
  protected retime(plan: Plan, workerId: string): void {
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
  protected apply(
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

  protected unassign(task: OnfleetTask): void {
    if (task.worker) this.detachFromWorker(task.worker, task.id);
    task.worker = null;
    task.state = TASK_STATE.unassigned;
    task.container = { type: 'TEAM', team: this.taskTeam.get(task.id)! };
    task.estimatedArrivalTime = null;
    task.estimatedCompletionTime = null;
    task.eta = null;
    task.timeLastModified = this.simNow();
  }

  protected detachFromWorker(workerId: string, taskId: string): void {
    const worker = this.worker(workerId);
    if (!worker) return;
    worker.tasks = worker.tasks.filter((t) => t !== taskId);
    if (worker.activeTask === taskId) worker.activeTask = null;
  }
}
