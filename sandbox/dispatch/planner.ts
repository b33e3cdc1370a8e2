import { estimateTravel, optimize, reoptimiseRoute } from './optimizer/index.js';
import type { Job, OptimizeInput, OptimizeResult, Route, Vehicle } from './optimizer/index.js';
import type { LngLat } from './onfleet.js';

/**
 * The one seam between the dispatch sandbox and the route optimiser: Onfleet tasks and workers become a
 * VROOM-shaped problem (seconds after the day's local midnight, pallets as the capacity dimension) and the
 * VROOM-shaped answer becomes ordered stops per worker with estimated arrival times.
 */

/** A task to place, in the planner's terms. */
export interface PlannerTask {
  taskId: string;
  location: LngLat;
  /** Service duration in seconds. */
  serviceSeconds: number;
  /** Pallets delivered. */
  quantity: number;
  /** Earliest and latest service start, seconds after the day's origin. */
  window: [number, number];
  /** Skills the vehicle must have (liftgate, hazmat). */
  skills: string[];
  /** When set, only this worker may serve the task (keeps an earlier assignment on re-dispatch). */
  pinnedTo?: string;
}

/** A worker's vehicle for one day, as far as the planner is concerned. */
export interface PlannerVehicle {
  workerId: string;
  start: LngLat;
  end: LngLat;
  /** Pallets it can still carry. */
  capacity: number;
  /** Stops it may still take (Onfleet's maxTasksPerRoute). */
  maxTasks: number;
  /** Seconds after the day's origin between which the vehicle can drive. */
  window: [number, number];
  skills: string[];
}

/** One planned stop. */
export interface PlannedStop {
  taskId: string;
  /** Seconds after the origin at which service starts (the ETA shared with the customer). */
  serviceStart: number;
  /** Seconds after the origin at which the driver leaves the stop. */
  departure: number;
  /** Road metres from the previous stop or the depot. */
  legDistance: number;
}

/** One worker's planned sequence. */
export interface PlannedRoute {
  workerId: string;
  stops: PlannedStop[];
  /** Road metres of the whole route, back to the depot included. */
  distance: number;
}

/** Why a task stayed unplanned. */
export interface PlannerUnassigned {
  taskId: string;
  reason: string;
}

/** The planner's answer. */
export interface PlannerOutput {
  routes: PlannedRoute[];
  unassigned: PlannerUnassigned[];
}

/** Solver effort. */
export interface PlannerOptions {
  timeLimitMs: number;
  seed: number;
  maxIterations?: number;
}

/** Numeric ids the optimiser needs, with the way back to Onfleet ids. */
interface IdMaps {
  jobIdOf: Map<string, number>;
  taskIdOf: Map<number, string>;
  vehicleIdOf: Map<string, number>;
  workerIdOf: Map<number, string>;
}

const SKILL_NUMBERS: Record<string, number> = { liftgate: 1, hazmat: 2 };
/** Skill numbers from this value up pin a task to one vehicle. */
const PIN_SKILL_BASE = 1000;

function skillNumber(skill: string): number {
  return (
    (Object.hasOwn(SKILL_NUMBERS, skill) ? SKILL_NUMBERS[skill] : undefined) ??
    3 + Object.keys(SKILL_NUMBERS).length
  );
}

/** Maps tasks and vehicles to a VROOM-shaped optimiser input. */
export function toOptimizeInput(
  tasks: readonly PlannerTask[],
  vehicles: readonly PlannerVehicle[],
  options: PlannerOptions,
): { input: OptimizeInput; ids: IdMaps; infeasible: PlannerUnassigned[] } {
  const ids: IdMaps = {
    jobIdOf: new Map(),
    taskIdOf: new Map(),
    vehicleIdOf: new Map(),
    workerIdOf: new Map(),
  };
  vehicles.forEach((v, i) => {
    ids.vehicleIdOf.set(v.workerId, i + 1);
    ids.workerIdOf.set(i + 1, v.workerId);
  });
  const infeasible: PlannerUnassigned[] = [];
  const jobs: Job[] = [];
  for (const t of tasks) {
    if (t.window[1] < t.window[0] || t.window[1] < 0) {
      infeasible.push({ taskId: t.taskId, reason: 'time_window' });
      continue;
    }
    const id = jobs.length + 1;
    ids.jobIdOf.set(t.taskId, id);
    ids.taskIdOf.set(id, t.taskId);
    const skills = t.skills.map(skillNumber);
    const pinned = t.pinnedTo === undefined ? undefined : ids.vehicleIdOf.get(t.pinnedTo);
    if (pinned !== undefined) skills.push(PIN_SKILL_BASE + pinned);
    jobs.push({
      id,
      location: t.location,
      service: t.serviceSeconds,
      delivery: [t.quantity, 1],
      time_windows: [[Math.max(0, t.window[0]), t.window[1]]],
      ...(skills.length > 0 ? { skills } : {}),
    });
  }
  const vehicleList: Vehicle[] = vehicles.map((v, i) => ({
    id: i + 1,
    start: v.start,
    end: v.end,
    capacity: [v.capacity, v.maxTasks],
    time_window: v.window,
    skills: [...v.skills.map(skillNumber), PIN_SKILL_BASE + i + 1],
  }));
  const optimizeOptions: NonNullable<OptimizeInput['options']> = {
    timeLimitMs: options.timeLimitMs,
    seed: options.seed,
  };
  if (options.maxIterations !== undefined) optimizeOptions.maxIterations = options.maxIterations;
  return { input: { jobs, vehicles: vehicleList, options: optimizeOptions }, ids, infeasible };
}

/** Maps a VROOM-shaped result back to worker routes and unassigned tasks. */
export function fromOptimizeResult(result: OptimizeResult, ids: IdMaps): PlannerOutput {
  const routes: PlannedRoute[] = [];
  for (const route of result.routes) {
    const workerId = ids.workerIdOf.get(route.vehicle);
    if (workerId === undefined) continue;
    const stops: PlannedStop[] = [];
    let previousDistance = 0;
    for (const step of route.steps) {
      if (step.type === 'job' && step.id !== undefined) {
        const taskId = ids.taskIdOf.get(step.id);
        if (taskId !== undefined) {
          const serviceStart = step.arrival + step.waiting_time;
          stops.push({
            taskId,
            serviceStart,
            departure: serviceStart + step.service,
            legDistance: step.distance - previousDistance,
          });
        }
      }
      previousDistance = step.distance;
    }
    if (stops.length > 0) routes.push({ workerId, stops, distance: route.distance });
  }
  const unassigned = result.unassigned.flatMap((u) => {
    const taskId = ids.taskIdOf.get(u.id);
    return taskId === undefined ? [] : [{ taskId, reason: u.reason }];
  });
  return { routes, unassigned };
}

/** Plans every task onto the vehicles from scratch (team auto-dispatch). */
export function planRoutes(
  tasks: readonly PlannerTask[],
  vehicles: readonly PlannerVehicle[],
  options: PlannerOptions,
): PlannerOutput {
  const { input, ids, infeasible } = toOptimizeInput(tasks, vehicles, options);
  if (input.vehicles.length === 0) {
    return { routes: [], unassigned: [...tasks.map((t) => ({ taskId: t.taskId, reason: 'no_vehicle' }))] };
  }
  const out =
    input.jobs.length === 0 ? { routes: [], unassigned: [] } : fromOptimizeResult(optimize(input), ids);
  return { routes: out.routes, unassigned: [...infeasible, ...out.unassigned] };
}

/**
 * Re-plans after one task changed or arrived: the other tasks keep their routes where those stay feasible,
 * the changed task goes to its cheapest feasible place, and only the touched routes are re-sequenced.
 * `current` lists each worker's task ids in their present order; the changed task may or may not be in it.
 */
export function replanAfterChange(
  tasks: readonly PlannerTask[],
  vehicles: readonly PlannerVehicle[],
  current: readonly { workerId: string; taskIds: readonly string[] }[],
  changedTaskId: string,
  options: PlannerOptions,
): PlannerOutput {
  const { input, ids, infeasible } = toOptimizeInput(tasks, vehicles, options);
  const changed = input.jobs.find((j) => j.id === ids.jobIdOf.get(changedTaskId));
  if (!changed || input.vehicles.length === 0) {
    const out = planRoutes(tasks, vehicles, options);
    return out;
  }
  const previous = currentAsResult(current, ids);
  const result = reoptimiseRoute(input, previous, changed, { seed: options.seed });
  const out = fromOptimizeResult(result, ids);
  return { routes: out.routes, unassigned: [...infeasible, ...out.unassigned] };
}

/** The present routes in the result shape the optimiser's repair step starts from (only sequences matter). */
function currentAsResult(
  current: readonly { workerId: string; taskIds: readonly string[] }[],
  ids: IdMaps,
): OptimizeResult {
  const routes: Route[] = [];
  for (const c of current) {
    const vehicle = ids.vehicleIdOf.get(c.workerId);
    if (vehicle === undefined) continue;
    const steps: Route['steps'] = c.taskIds.flatMap((taskId) => {
      const id = ids.jobIdOf.get(taskId);
      return id === undefined
        ? []
        : [
            {
              type: 'job' as const,
              id,
              arrival: 0,
              duration: 0,
              distance: 0,
              load: [],
              service: 0,
              waiting_time: 0,
            },
          ];
    });
    routes.push({
      vehicle,
      cost: 0,
      delivery: [],
      duration: 0,
      distance: 0,
      service: 0,
      waiting_time: 0,
      steps,
    });
  }
  return {
    code: 0,
    summary: {
      cost: 0,
      routes: routes.length,
      unassigned: 0,
      delivery: [],
      service: 0,
      duration: 0,
      distance: 0,
      waiting_time: 0,
      computing_times: { loading: 0, solving: 0 },
    },
    routes,
    unassigned: [],
  };
}

/**
 * The schedule of a fixed sequence on a vehicle, without re-ordering: used after a stop leaves a route,
 * when the others keep their order and only their times move. Same travel model as the optimiser.
 */
export function timeline(vehicle: PlannerVehicle, tasks: readonly PlannerTask[]): PlannedRoute {
  let t = vehicle.window[0];
  let at = vehicle.start;
  let distance = 0;
  const stops: PlannedStop[] = [];
  for (const task of tasks) {
    const leg = estimateTravel(at, task.location);
    const serviceStart = Math.max(t + leg.duration, task.window[0]);
    stops.push({
      taskId: task.taskId,
      serviceStart,
      departure: serviceStart + task.serviceSeconds,
      legDistance: leg.distance,
    });
    distance += leg.distance;
    t = serviceStart + task.serviceSeconds;
    at = task.location;
  }
  distance += estimateTravel(at, vehicle.end).distance;
  return { workerId: vehicle.workerId, stops, distance };
}
