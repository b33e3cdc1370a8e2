import { buildTravelMatrix } from './travel.js';
import type { Coordinates, Matrix, OptimizeInput, OptimizeResult } from './types.js';

/** Slack for floating-point sums when comparing times, loads and distances. */
const TOLERANCE = 1e-6;

/** Outcome of checking a result against its input. */
export interface ValidationReport {
  /** True when there are no violations. */
  feasible: boolean;
  /** Human-readable violations, empty when feasible. */
  violations: string[];
  /** Distance recomputed from the matrix along the reported routes. */
  distance: number;
  /** Number of routes with at least one job. */
  vehicles: number;
  /** Number of jobs served. */
  served: number;
}

/**
 * Re-simulates every route of a result from the input alone (matrix, service times, windows, shifts,
 * capacities) and lists every broken constraint; used by the benchmark to certify what it reports.
 */
export function validateResult(input: OptimizeInput, result: OptimizeResult): ValidationReport {
  const violations: string[] = [];
  const jobs = new Map(input.jobs.map((j) => [j.id, j]));
  const vehicles = new Map(input.vehicles.map((v) => [v.id, v]));
  const matrix: Matrix = input.matrix ?? coordinateMatrix(input);
  const locate = locator(input);
  const seen = new Map<number, number>();
  let distance = 0;
  for (const route of result.routes) {
    const vehicle = vehicles.get(route.vehicle);
    if (!vehicle) {
      violations.push(`route of unknown vehicle ${route.vehicle}`);
      continue;
    }
    const speed = vehicle.speed_factor ?? 1;
    const stops = route.steps.filter((s) => s.type === 'job');
    const load = vehicle.capacity.map(() => 0);
    let at = locate.start(vehicle.id);
    let clock = vehicle.time_window[0];
    const startStep = route.steps.find((s) => s.type === 'start');
    // Without a start depot the vehicle simply appears at its first job.
    const departure = startStep?.arrival ?? stops[0]?.arrival ?? clock;
    if (departure < vehicle.time_window[0] - TOLERANCE)
      violations.push(`vehicle ${vehicle.id} starts before its shift`);
    clock = departure;
    let routeDistance = 0;
    let routeTravel = 0;
    for (const step of stops) {
      const job = step.id === undefined ? undefined : jobs.get(step.id);
      if (!job) {
        violations.push(`vehicle ${vehicle.id} visits unknown job ${step.id}`);
        continue;
      }
      seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
      const to = locate.job(job.id);
      const leg = at === undefined ? 0 : matrix.durations[at]![to]! / speed;
      routeDistance += at === undefined ? 0 : matrix.distances[at]![to]!;
      routeTravel += leg;
      const arrival = clock + leg;
      if (Math.abs(arrival - step.arrival) > 1e-3)
        violations.push(`job ${job.id}: arrival ${step.arrival} != ${arrival}`);
      const windows =
        job.time_windows.length > 0 ? job.time_windows : [[-Infinity, Infinity] as [number, number]];
      const window = [...windows].sort((a, b) => a[0] - b[0]).find((w) => arrival <= w[1] + TOLERANCE);
      if (!window) {
        violations.push(`job ${job.id}: arrival ${arrival} after its time windows`);
        clock = arrival + job.service;
      } else {
        clock = Math.max(arrival, window[0]) + job.service;
      }
      const needs = new Set(job.skills ?? []);
      for (const s of vehicle.skills ?? []) needs.delete(s);
      if (needs.size > 0) violations.push(`job ${job.id}: vehicle ${vehicle.id} lacks skills`);
      job.delivery.forEach((amount, d) => (load[d] = (load[d] ?? 0) + amount));
      at = to;
    }
    const end = locate.end(vehicle.id);
    if (end !== undefined && at !== undefined) {
      routeDistance += matrix.distances[at]![end]!;
      const leg = matrix.durations[at]![end]! / speed;
      routeTravel += leg;
      clock += leg;
    }
    if (clock > vehicle.time_window[1] + TOLERANCE)
      violations.push(`vehicle ${vehicle.id}: back at ${clock}, shift ends ${vehicle.time_window[1]}`);
    load.forEach((amount, d) => {
      if (amount > (vehicle.capacity[d] ?? 0) + TOLERANCE)
        violations.push(`vehicle ${vehicle.id}: load ${amount} > capacity`);
    });
    if (vehicle.max_travel_time !== undefined && routeTravel > vehicle.max_travel_time + TOLERANCE) {
      violations.push(`vehicle ${vehicle.id}: travel ${routeTravel} > max_travel_time`);
    }
    if (Math.abs(routeDistance - route.distance) > 1e-3 * Math.max(1, routeDistance)) {
      violations.push(`vehicle ${vehicle.id}: reported distance ${route.distance} != ${routeDistance}`);
    }
    distance += routeDistance;
  }
  for (const u of result.unassigned) seen.set(u.id, (seen.get(u.id) ?? 0) + 1);
  for (const job of input.jobs) {
    const count = seen.get(job.id) ?? 0;
    if (count !== 1) violations.push(`job ${job.id} appears ${count} times`);
  }
  if (Math.abs(distance - result.summary.distance) > 1e-3 * Math.max(1, distance)) {
    violations.push(`summary distance ${result.summary.distance} != ${distance}`);
  }
  return {
    feasible: violations.length === 0,
    violations,
    distance,
    vehicles: result.routes.filter((r) => r.steps.some((s) => s.type === 'job')).length,
    served: input.jobs.length - result.unassigned.length,
  };
}

/** Maps jobs and vehicles to matrix indices, numbering distinct coordinates when the input has no matrix. */
function locator(input: OptimizeInput): {
  job: (id: number) => number;
  start: (id: number) => number | undefined;
  end: (id: number) => number | undefined;
} {
  const points = coordinateIndex(input);
  const jobs = new Map(input.jobs.map((j) => [j.id, j]));
  const vehicles = new Map(input.vehicles.map((v) => [v.id, v]));
  const at = (index: number | undefined, coords: Coordinates | undefined): number | undefined =>
    input.matrix ? index : coords ? points.get(`${coords[0]},${coords[1]}`) : undefined;
  return {
    job: (id) => at(jobs.get(id)?.location_index, jobs.get(id)?.location)!,
    start: (id) => at(vehicles.get(id)?.start_index, vehicles.get(id)?.start),
    end: (id) => at(vehicles.get(id)?.end_index, vehicles.get(id)?.end),
  };
}

/** Distinct coordinates of the input in first-seen order (jobs, then vehicle starts and ends). */
function coordinateIndex(input: OptimizeInput): Map<string, number> {
  const index = new Map<string, number>();
  const add = (c: Coordinates | undefined): void => {
    if (c && !index.has(`${c[0]},${c[1]}`)) index.set(`${c[0]},${c[1]}`, index.size);
  };
  input.jobs.forEach((j) => add(j.location));
  input.vehicles.forEach((v) => add(v.start));
  input.vehicles.forEach((v) => add(v.end));
  return index;
}

/** The haversine matrix the optimiser builds for coordinate-only inputs. */
function coordinateMatrix(input: OptimizeInput): Matrix {
  const points = [...coordinateIndex(input).keys()].map((k) => k.split(',').map(Number) as Coordinates);
  const options: { roadFactor?: number; speedKmh?: number } = {};
  if (input.options?.roadFactor !== undefined) options.roadFactor = input.options.roadFactor;
  if (input.options?.speedKmh !== undefined) options.speedKmh = input.options.speedKmh;
  return buildTravelMatrix(points, options);
}
