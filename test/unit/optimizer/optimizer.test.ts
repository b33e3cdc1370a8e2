import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { optimize, reoptimiseRoute } from '../../../sandbox/dispatch/optimizer/optimize.js';
import {
  OptimizeInputSchema,
  OptimizeResultSchema,
  type Job,
  type OptimizeInput,
  type OptimizeResult,
  type Step,
} from '../../../sandbox/dispatch/optimizer/types.js';
import {
  GEHRING_HOMBERGER_INSTANCES,
  loadVrplib,
  toOptimizeInput,
  vrptwDataDir,
} from '../../../sandbox/dispatch/optimizer/vrplib.js';

const dataDir = vrptwDataDir(fileURLToPath(new URL('../../..', import.meta.url)));
const hasData = existsSync(dataDir);

// Independent validator: written from the problem statement only, sharing no code with the optimiser.

const TOL = 1e-6;
const REASONS = new Set(['capacity', 'time_window', 'skills', 'shift', 'no_vehicle']);

/** Own great-circle distance (metres) for coordinate inputs: road factor 1.3 and 40 km/h, rounded like OSRM. */
function ownTravel(a: [number, number], b: [number, number]): { distance: number; duration: number } {
  const rad = (x: number): number => (x * Math.PI) / 180;
  const s =
    Math.sin(rad(b[1] - a[1]) / 2) ** 2 +
    Math.cos(rad(a[1])) * Math.cos(rad(b[1])) * Math.sin(rad(b[0] - a[0]) / 2) ** 2;
  const crow = 2 * 6_371_008.8 * Math.asin(Math.min(1, Math.sqrt(s)));
  const distance = Math.round(crow * 1.3);
  return { distance, duration: Math.round(distance / (40 / 3.6)) };
}

/** Where a job or depot is, as something the validator can look travel up for. */
type Place = number | [number, number] | undefined;

/** Checks a result against its input and returns every violation found (empty when the plan is valid). */
function verifyPlan(input: OptimizeInput, result: OptimizeResult): string[] {
  const errors: string[] = [];
  const leg = (from: Place, to: Place): { distance: number; duration: number } => {
    if (from === undefined || to === undefined) return { distance: 0, duration: 0 };
    if (typeof from === 'number' && typeof to === 'number') {
      return { distance: input.matrix!.distances[from]![to]!, duration: input.matrix!.durations[from]![to]! };
    }
    return ownTravel(from as [number, number], to as [number, number]);
  };
  const jobPlace = (j: Job): Place => (input.matrix ? j.location_index : j.location);
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
  const count = new Map<number, number>();
  let totalDistance = 0;
  for (const route of result.routes) {
    const vehicle = input.vehicles.find((v) => v.id === route.vehicle);
    if (!vehicle) {
      errors.push(`unknown vehicle ${route.vehicle}`);
      continue;
    }
    const startPlace: Place = input.matrix ? vehicle.start_index : vehicle.start;
    const endPlace: Place = input.matrix ? vehicle.end_index : vehicle.end;
    const steps = route.steps;
    const jobSteps = steps.filter((s) => s.type === 'job');
    if (startPlace !== undefined && steps[0]?.type !== 'start')
      errors.push(`vehicle ${vehicle.id}: no start step`);
    if (endPlace !== undefined && steps.at(-1)?.type !== 'end')
      errors.push(`vehicle ${vehicle.id}: no end step`);
    const speed = vehicle.speed_factor ?? 1;
    let clock = steps[0]?.arrival ?? vehicle.time_window[0];
    if (clock < vehicle.time_window[0] - TOL) errors.push(`vehicle ${vehicle.id}: leaves before its shift`);
    let at: Place = startPlace;
    let distance = 0;
    let travel = 0;
    const load = vehicle.capacity.map(() => 0);
    for (const step of jobSteps) {
      const job = input.jobs.find((j) => j.id === step.id);
      if (!job) {
        errors.push(`vehicle ${vehicle.id}: unknown job ${step.id}`);
        continue;
      }
      count.set(job.id, (count.get(job.id) ?? 0) + 1);
      const to = jobPlace(job);
      const l = leg(at, to);
      const arrival = clock + l.duration / speed;
      distance += l.distance;
      travel += l.duration / speed;
      if (!close(step.arrival, arrival))
        errors.push(`job ${job.id}: reported arrival ${step.arrival}, recomputed ${arrival}`);
      const open = job.time_windows.filter((w) => arrival <= w[1] + TOL).sort((a, b) => a[0] - b[0])[0];
      if (job.time_windows.length > 0 && !open)
        errors.push(`job ${job.id}: arrives at ${arrival}, after its time window`);
      const begin = open ? Math.max(arrival, open[0]) : arrival;
      if (!close(step.waiting_time, begin - arrival))
        errors.push(`job ${job.id}: waiting ${step.waiting_time} != ${begin - arrival}`);
      clock = begin + job.service;
      job.delivery.forEach((amount, d) => (load[d] = (load[d] ?? 0) + amount));
      for (const skill of job.skills ?? []) {
        if (!(vehicle.skills ?? []).includes(skill))
          errors.push(`job ${job.id}: vehicle ${vehicle.id} lacks skill ${skill}`);
      }
      at = to;
    }
    const back = leg(at, endPlace);
    distance += back.distance;
    travel += back.duration / speed;
    clock += back.duration / speed;
    if (clock > vehicle.time_window[1] + TOL)
      errors.push(`vehicle ${vehicle.id}: returns at ${clock} after shift end`);
    const endStep = steps.find((s) => s.type === 'end');
    if (endStep && !close(endStep.arrival, clock))
      errors.push(`vehicle ${vehicle.id}: end arrival ${endStep.arrival} != ${clock}`);
    load.forEach((amount, d) => {
      if (amount > (vehicle.capacity[d] ?? 0) + TOL)
        errors.push(`vehicle ${vehicle.id}: load ${amount} over capacity`);
    });
    if (vehicle.max_travel_time !== undefined && travel > vehicle.max_travel_time + TOL) {
      errors.push(`vehicle ${vehicle.id}: travel ${travel} over max_travel_time`);
    }
    if (!close(route.distance, distance))
      errors.push(`vehicle ${vehicle.id}: distance ${route.distance} != ${distance}`);
    totalDistance += distance;
  }
  for (const u of result.unassigned) {
    count.set(u.id, (count.get(u.id) ?? 0) + 1);
    if (!REASONS.has(u.reason)) errors.push(`job ${u.id}: unknown reason ${u.reason}`);
  }
  for (const job of input.jobs) {
    const n = count.get(job.id) ?? 0;
    if (n !== 1) errors.push(`job ${job.id} planned ${n} times`);
  }
  if (!close(result.summary.distance, totalDistance))
    errors.push(`summary distance ${result.summary.distance} != ${totalDistance}`);
  if (result.summary.unassigned !== result.unassigned.length) errors.push('summary.unassigned is wrong');
  if (result.summary.routes !== result.routes.length) errors.push('summary.routes is wrong');
  return errors;
}

/** Builds a result from plain job-id sequences by simulating earliest service, to test the validator itself. */
function planFromSequences(input: OptimizeInput, sequences: number[][]): OptimizeResult {
  const routes = sequences.map((ids, k) => {
    const vehicle = input.vehicles[k]!;
    const d = input.matrix!;
    let clock = vehicle.time_window[0];
    let at = vehicle.start_index!;
    let distance = 0;
    const steps: Step[] = [
      { type: 'start', arrival: clock, duration: 0, distance: 0, load: [0], service: 0, waiting_time: 0 },
    ];
    for (const id of ids) {
      const job = input.jobs.find((j) => j.id === id)!;
      const to = job.location_index!;
      const arrival = clock + d.durations[at]![to]!;
      distance += d.distances[at]![to]!;
      const begin = Math.max(arrival, job.time_windows[0]![0]);
      steps.push({
        type: 'job',
        id,
        arrival,
        duration: 0,
        distance,
        load: [0],
        service: job.service,
        waiting_time: begin - arrival,
      });
      clock = begin + job.service;
      at = to;
    }
    distance += d.distances[at]![vehicle.end_index!]!;
    steps.push({
      type: 'end',
      arrival: clock + d.durations[at]![vehicle.end_index!]!,
      duration: 0,
      distance,
      load: [0],
      service: 0,
      waiting_time: 0,
    });
    return {
      vehicle: vehicle.id,
      cost: 0,
      delivery: [0],
      duration: 0,
      distance,
      service: 0,
      waiting_time: 0,
      steps,
    };
  });
  const distance = routes.reduce((a, r) => a + r.distance, 0);
  return {
    code: 0,
    summary: {
      cost: 0,
      routes: routes.length,
      unassigned: 0,
      delivery: [0],
      service: 0,
      duration: 0,
      distance,
      waiting_time: 0,
      computing_times: { loading: 0, solving: 0 },
    },
    routes,
    unassigned: [],
  };
}

/** The result without its timings, for determinism comparisons. */
function withoutTimings(result: OptimizeResult): unknown {
  return { ...result, summary: { ...result.summary, computing_times: null } };
}

describe.skipIf(!hasData)('independent validator', () => {
  it('accepts the best-known solution of R1_10_1 and rejects broken variants of it', () => {
    const { instance, bks } = loadVrplib('R1_10_1', dataDir);
    const input = toOptimizeInput(instance);
    expect(verifyPlan(input, planFromSequences(input, bks!.routes))).toEqual([]);

    const reversed = bks!.routes.map((r, k) => (k === 0 ? [...r].reverse() : r));
    expect(verifyPlan(input, planFromSequences(input, reversed)).join('\n')).toMatch(
      /after its time window|after shift end/,
    );

    const merged = [[...bks!.routes[0]!, ...bks!.routes[1]!], ...bks!.routes.slice(2)];
    expect(verifyPlan(input, planFromSequences(input, merged)).join('\n')).toMatch(/over capacity/);

    const dropped = bks!.routes.map((r, k) => (k === 0 ? r.slice(1) : r));
    expect(verifyPlan(input, planFromSequences(input, dropped)).join('\n')).toMatch(/planned 0 times/);

    const plan = planFromSequences(input, bks!.routes);
    plan.routes[0]!.distance += 1;
    expect(verifyPlan(input, plan).join('\n')).toMatch(/distance/);
  });
});

describe.skipIf(!hasData)('optimiser on 100-customer sub-instances', () => {
  it.each(GEHRING_HOMBERGER_INSTANCES)(
    '%s: feasible, every customer served',
    (name) => {
      const { instance } = loadVrplib(name, dataDir);
      const input = toOptimizeInput(instance, { customers: 100, timeLimitMs: 2_000, seed: 7 });
      const result = optimize(input);
      expect(OptimizeResultSchema.safeParse(result).success).toBe(true);
      expect(verifyPlan(input, result)).toEqual([]);
      expect(result.unassigned).toEqual([]);
      expect(result.routes.reduce((n, r) => n + r.steps.filter((s) => s.type === 'job').length, 0)).toBe(100);
      expect(result.summary.computing_times.solving).toBeLessThan(4_000);
    },
    20_000,
  );

  it('is deterministic for a given seed and iteration budget', () => {
    const { instance } = loadVrplib('RC1_10_1', dataDir);
    const input = toOptimizeInput(instance, {
      customers: 60,
      timeLimitMs: 60_000,
      maxIterations: 1_500,
      seed: 42,
    });
    const a = optimize(input);
    const b = optimize(input);
    expect(withoutTimings(a)).toEqual(withoutTimings(b));
    const other = optimize({ ...input, options: { ...input.options, seed: 43 } });
    expect(verifyPlan(input, other)).toEqual([]);
  }, 30_000);

  it('re-plans feasibly after a job time window changes', () => {
    const { instance } = loadVrplib('RC1_10_1', dataDir);
    const input = toOptimizeInput(instance, { customers: 100, timeLimitMs: 1_000, seed: 5 });
    const before = optimize(input);
    expect(verifyPlan(input, before)).toEqual([]);
    // Move the window of a job to a slot it can only meet late in the day.
    const target = before.routes[0]!.steps.find((s) => s.type === 'job')!;
    const job = input.jobs.find((j) => j.id === target.id)!;
    const reach = input.matrix!.durations[0]![job.location_index!]!;
    const horizon = input.vehicles[0]!.time_window[1];
    const start = Math.round(Math.min(horizon - 2 * reach - job.service - 60, target.arrival + 120));
    const changed: Job = { ...job, time_windows: [[start, start + 30]] };
    const updated: OptimizeInput = { ...input, jobs: input.jobs.map((j) => (j.id === job.id ? changed : j)) };

    const after = reoptimiseRoute(input, before, changed);
    expect(verifyPlan(updated, after)).toEqual([]);
    expect(after.unassigned).toEqual([]);
    const step = after.routes.flatMap((r) => r.steps).find((s) => s.type === 'job' && s.id === job.id)!;
    expect(step.arrival + step.waiting_time).toBeGreaterThanOrEqual(start - TOL);
    expect(step.arrival).toBeLessThanOrEqual(start + 30 + TOL);
    // Routes that never held the job and were not needed to place it keep their exact plan.
    const untouched = after.routes.filter((r) => {
      const old = before.routes.find((o) => o.vehicle === r.vehicle);
      return old && JSON.stringify(old.steps) === JSON.stringify(r.steps);
    });
    expect(untouched.length).toBeGreaterThan(before.routes.length / 2);
  }, 20_000);
});

describe('optimiser on hand-made inputs', () => {
  /** Depot in Chicago's Loop and real delivery addresses around the city, as [lng, lat]. */
  const depot: [number, number] = [-87.6298, 41.8781];
  const stops: [number, number][] = [
    [-87.6233, 41.8827], // Millennium Park
    [-87.6244, 41.8789], // Art Institute
    [-87.6359, 41.8789], // Willis Tower
    [-87.6553, 41.9484], // Wrigley Field
    [-87.6339, 41.9217], // Lincoln Park Zoo
    [-87.6077, 41.8916], // Navy Pier
    [-87.6197, 41.8663], // Field Museum
    [-87.6339, 41.8299], // Guaranteed Rate Field
    [-87.6742, 41.8807], // United Center
    [-87.5834, 41.7886], // University of Chicago
    [-87.6866, 41.9181], // Bucktown
    [-87.6688, 42.0565], // Evanston
    [-87.7845, 41.885], // Oak Park
    [-87.6251, 41.8955], // Magnificent Mile
    [-87.663, 41.8566], // Pilsen
    [-87.9073, 41.9742], // O'Hare
    [-87.7522, 41.7868], // Midway
    [-87.648, 41.91], // Old Town
  ];
  const shift: [number, number] = [8 * 3600, 17 * 3600];

  /** A small city problem: 18 stops, two vans, windows in the morning or afternoon. */
  function cityInput(): OptimizeInput {
    const jobs: Job[] = stops.map((location, k) => ({
      id: 100 + k,
      location,
      service: 300,
      delivery: [1 + (k % 3)],
      time_windows: [k % 2 === 0 ? [9 * 3600, 12 * 3600] : [12 * 3600, 16 * 3600]],
    }));
    return {
      jobs,
      vehicles: [1, 2].map((id) => ({ id, start: depot, end: depot, capacity: [20], time_window: shift })),
      options: { timeLimitMs: 500, seed: 1 },
    };
  }

  it('plans real US lat/lngs with haversine travel times', () => {
    const input = cityInput();
    expect(OptimizeInputSchema.safeParse(input).success).toBe(true);
    const result = optimize(input);
    expect(verifyPlan(input, result)).toEqual([]);
    expect(result.unassigned).toEqual([]);
    // Road metres and seconds at 40 km/h: a city day of this size is tens of kilometres and a few hours.
    expect(result.summary.distance).toBeGreaterThan(50_000);
    expect(result.summary.distance).toBeLessThan(400_000);
    expect(result.summary.duration).toBeCloseTo(result.summary.distance / (40 / 3.6), -2);
    const first = result.routes[0]!.steps[0]!;
    expect(first.type).toBe('start');
    expect(first.location).toEqual(depot);
  });

  it('lists jobs that cannot be served with the right reason and serves the rest', () => {
    const input = cityInput();
    input.jobs.push(
      { id: 1, location: stops[0]!, service: 60, delivery: [25], time_windows: [[9 * 3600, 16 * 3600]] },
      { id: 2, location: stops[1]!, service: 60, delivery: [1], time_windows: [[5 * 3600, 7 * 3600]] },
      {
        id: 3,
        location: stops[2]!,
        service: 60,
        delivery: [1],
        time_windows: [[9 * 3600, 16 * 3600]],
        skills: [9],
      },
      {
        id: 4,
        location: [-86.1581, 39.7684],
        service: 60,
        delivery: [1],
        time_windows: [[16.5 * 3600, 17 * 3600]],
      },
    );
    const result = optimize(input);
    expect(verifyPlan(input, result)).toEqual([]);
    const reasons = Object.fromEntries(result.unassigned.map((u) => [u.id, u.reason]));
    // 25 units exceed the 20-unit vans; 5-7 am is before the 8 am shift; nobody has skill 9; Indianapolis
    // at 4:30 pm is reachable but the van cannot be back in Chicago by 5 pm.
    expect(reasons).toEqual({ 1: 'capacity', 2: 'time_window', 3: 'skills', 4: 'shift' });
    expect(result.summary.unassigned).toBe(4);
  });

  it('respects multiple time windows, max travel time, skills and speed factors', () => {
    const input = cityInput();
    input.jobs[0]!.time_windows = [
      [8 * 3600, 8 * 3600 + 60],
      [14 * 3600, 15 * 3600],
    ];
    input.jobs[1]!.skills = [7];
    input.vehicles[0]!.skills = [7];
    input.vehicles[1]!.speed_factor = 1.5;
    input.vehicles[0]!.max_travel_time = 3 * 3600;
    const result = optimize(input);
    expect(verifyPlan(input, result)).toEqual([]);
    expect(result.unassigned).toEqual([]);
    const step = result.routes.flatMap((r) => r.steps).find((s) => s.id === input.jobs[0]!.id)!;
    expect(step.arrival + step.waiting_time).toBeGreaterThanOrEqual(14 * 3600);
    const holder = result.routes.find((r) => r.steps.some((s) => s.id === input.jobs[1]!.id))!;
    expect(holder.vehicle).toBe(1);
  });

  it('plans open routes for vehicles without a start depot', () => {
    const input = cityInput();
    input.vehicles = [{ id: 9, end: depot, capacity: [40], time_window: shift }];
    const result = optimize(input);
    expect(verifyPlan(input, result)).toEqual([]);
    expect(result.unassigned).toEqual([]);
    const steps = result.routes[0]!.steps;
    expect(steps[0]!.type).toBe('job');
    expect(steps.at(-1)!.type).toBe('end');
  });

  it('rejects inputs it cannot locate', () => {
    const input = cityInput();
    delete input.jobs[0]!.location;
    expect(() => optimize(input)).toThrow(/no location/);
  });
});
