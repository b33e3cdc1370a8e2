import { cheapestInsertion, DEFAULT_I1_PARAMS, solomonI1 } from './construction.js';
import { LocalSearch } from './local-search.js';
import { buildProblem, serviceStart, type Problem } from './problem.js';
import { SeededRandom } from '../../common/rng.js';
import { DEFAULT_RUIN_RECREATE, ruinAndRecreate, type RuinRecreateStats } from './ruin-recreate.js';
import { Solution } from './solution.js';
import {
  OptimizeInputSchema,
  type Job,
  type OptimizeInput,
  type OptimizeResult,
  type Route,
  type Step,
  type Unassigned,
} from './types.js';

/** Time limit used when the caller gives none: enough for a few hundred stops. */
export const DEFAULT_TIME_LIMIT_MS = 5_000;

/** Seed used when the caller gives none, so runs are reproducible by default. */
export const DEFAULT_SEED = 1;

/** Share of the time limit kept back for the final local search and the output. */
const FINAL_RESERVE = 0.03;

/** Annealing start temperature as a multiple of the mean neighbour arc: hot enough to reshape routes early. */
const START_TEMPERATURE = 3;

/** Annealing end temperature as a multiple of the mean neighbour arc: nearly greedy at the end. */
const END_TEMPERATURE = 0.03;

/** Safety cap on the local search after a re-plan; it normally converges in milliseconds. */
const REPAIR_SEARCH_LIMIT_MS = 10_000;

/** What the solver did, for benchmarks and logs. */
export interface SolveStats {
  /** Cost of the best Solomon I1 construction. */
  constructionCost: number;
  /** Cost after the first local search. */
  localSearchCost: number;
  /** Ruin-and-recreate iteration counts. */
  ruinRecreate: RuinRecreateStats;
}

/** Plans routes for the input's jobs and vehicles (VROOM-shaped in and out). */
export function optimize(input: OptimizeInput): OptimizeResult {
  return optimizeWithStats(input).result;
}

/** Like optimize, and also reports what each phase achieved. */
export function optimizeWithStats(input: OptimizeInput): { result: OptimizeResult; stats: SolveStats } {
  const started = performance.now();
  const parsed = OptimizeInputSchema.parse(input);
  const p = buildProblem(parsed);
  const loaded = performance.now();
  const options = parsed.options ?? {};
  const timeLimit = options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS;
  const deadline = started + timeLimit;
  const rng = new SeededRandom(options.seed ?? DEFAULT_SEED);

  let sol: Solution | undefined;
  for (const params of DEFAULT_I1_PARAMS) {
    const candidate = solomonI1(p, params);
    if (!sol || candidate.objective() < sol.objective()) sol = candidate;
  }
  sol ??= new Solution(p);
  const constructionCost = sol.cost();
  const search = new LocalSearch(sol, rng);
  search.run(deadline);
  const localSearchCost = sol.cost();
  let ruinRecreate: RuinRecreateStats = { iterations: 0, accepted: 0, improvements: 0 };
  // With fewer than two plannable jobs there is nothing to rearrange.
  if (p.m > 0 && p.n - p.infeasible.size > 1) {
    ruinRecreate = ruinAndRecreate(sol, rng, {
      ...DEFAULT_RUIN_RECREATE,
      deadline: deadline - timeLimit * FINAL_RESERVE,
      maxIterations: options.maxIterations ?? Infinity,
      startTemperature: START_TEMPERATURE * p.arcScale,
      endTemperature: END_TEMPERATURE * p.arcScale,
    });
    new LocalSearch(sol, rng).run(deadline);
  }
  const result = buildResult(p, sol, loaded - started, performance.now() - loaded);
  return { result, stats: { constructionCost, localSearchCost, ruinRecreate } };
}

/** Options for re-planning after one job changed. */
export interface ReoptimiseOptions {
  /** Extra ruin-and-recreate time after the repair (0, the default, keeps every other route as it was). */
  timeLimitMs?: number;
  /** Seed for the local search order and the optional ruin-and-recreate. */
  seed?: number;
}

/**
 * Re-plans after one job changed (typically its time window): the job leaves its route, routes that no
 * longer hold are repaired, the job and any unassigned ones are reinserted at their cheapest feasible
 * place, and local search polishes only the routes that changed. Returns the result for input with
 * changedJob replacing the job of the same id.
 */
export function reoptimiseRoute(
  input: OptimizeInput,
  previous: OptimizeResult,
  changedJob: Job,
  options: ReoptimiseOptions = {},
): OptimizeResult {
  const started = performance.now();
  const updated: OptimizeInput = {
    ...input,
    jobs: input.jobs.some((j) => j.id === changedJob.id)
      ? input.jobs.map((j) => (j.id === changedJob.id ? changedJob : j))
      : [...input.jobs, changedJob],
  };
  const p = buildProblem(OptimizeInputSchema.parse(updated));
  const loaded = performance.now();
  const sol = new Solution(p);
  const vehicleIndex = new Map(p.vehicleIds.map((id, r) => [id, r]));
  const changed = p.jobIndex.get(changedJob.id)!;
  const pending: number[] = [];
  const affected = new Set<number>();
  for (const route of previous.routes) {
    const r = vehicleIndex.get(route.vehicle);
    if (r === undefined) continue;
    const jobs: number[] = [];
    for (const step of route.steps) {
      if (step.type !== 'job' || step.id === undefined) continue;
      const u = p.jobIndex.get(step.id);
      if (u === undefined) continue;
      if (u === changed) affected.add(r);
      else jobs.push(u);
    }
    // Rebuild in the old order, keeping each job only if the route stays feasible with it.
    for (const u of jobs) {
      if (p.infeasible.has(u)) continue;
      const q = sol.size(r);
      if (
        sol.fits(r, u) &&
        (!p.hasSkills || p.compat[u * p.m + r]) &&
        sol.insertionDelta(r, q, u, Infinity) < Infinity
      ) {
        sol.insert(r, q, u);
      } else {
        pending.push(u);
        affected.add(r);
      }
    }
  }
  const waiting = new Set(pending);
  for (let u = 0; u < p.n; u++)
    if (sol.routeOf[u]! < 0 && !p.infeasible.has(u) && !waiting.has(u)) pending.push(u);
  sol.unassigned = [];
  for (const r of cheapestInsertion(sol, pending)) affected.add(r);
  const rng = new SeededRandom(options.seed ?? DEFAULT_SEED);
  new LocalSearch(sol, rng).run(started + REPAIR_SEARCH_LIMIT_MS, affected);
  if ((options.timeLimitMs ?? 0) > 0) {
    const deadline = performance.now() + options.timeLimitMs!;
    ruinAndRecreate(sol, rng, {
      ...DEFAULT_RUIN_RECREATE,
      deadline,
      maxIterations: Infinity,
      startTemperature: END_TEMPERATURE * p.arcScale,
      endTemperature: END_TEMPERATURE * p.arcScale,
    });
  }
  return buildResult(p, sol, loaded - started, performance.now() - loaded);
}

/** Turns the internal routes into a VROOM-shaped result with the full schedule of every route. */
export function buildResult(p: Problem, sol: Solution, loadingMs: number, solvingMs: number): OptimizeResult {
  const { n, m, dims } = p;
  const routes: Route[] = [];
  const totals = {
    cost: 0,
    service: 0,
    duration: 0,
    distance: 0,
    waiting: 0,
    delivery: new Array<number>(dims).fill(0),
  };
  for (let r = 0; r < m; r++) {
    const seq = sol.routes[r]!;
    if (seq.length <= 2) continue;
    const inv = p.vInv[r]!;
    const time = (a: number, b: number): number => p.dur[p.nodeLoc[a]! * p.width + p.nodeLoc[b]!]! * inv;
    const length = (a: number, b: number): number => p.dist[p.nodeLoc[a]! * p.width + p.nodeLoc[b]!]!;
    const delivery = new Array<number>(dims).fill(0);
    for (let q = 1; q < seq.length - 1; q++) {
      for (let d = 0; d < dims; d++) delivery[d]! += p.demand[seq[q]! * dims + d]!;
    }
    // Leaving as late as the first job allows removes pointless waiting at the first stop.
    const departure = sol.est[r]![1]! - time(seq[0]!, seq[1]!);
    const load = delivery.slice();
    const steps: Step[] = [];
    const locations = p.vehicleLocationIndex[r]!;
    const coordinates = p.vehicleCoordinates[r]!;
    const depotStep = (type: 'start' | 'end', arrival: number, duration: number, distance: number): Step => {
      const step: Step = {
        type,
        arrival,
        duration,
        distance,
        load: load.slice(),
        service: 0,
        waiting_time: 0,
      };
      const coords = type === 'start' ? coordinates.start : coordinates.end;
      const index = type === 'start' ? locations.start : locations.end;
      if (coords) step.location = coords;
      if (p.userMatrix && index !== undefined) step.location_index = index;
      return step;
    };
    if (p.vHasStart[r]) steps.push(depotStep('start', departure, 0, 0));
    let clock = departure;
    let travelled = 0;
    let distance = 0;
    let service = 0;
    let waiting = 0;
    for (let q = 1; q < seq.length - 1; q++) {
      const u = seq[q]!;
      const tt = time(seq[q - 1]!, u);
      const arrival = clock + tt;
      const begin = serviceStart(p, u, arrival);
      travelled += tt;
      distance += length(seq[q - 1]!, u);
      for (let d = 0; d < dims; d++) load[d]! -= p.demand[u * dims + d]!;
      const step: Step = {
        type: 'job',
        id: p.jobIds[u]!,
        job: p.jobIds[u]!,
        arrival,
        duration: travelled,
        distance,
        load: load.slice(),
        service: p.nodeSvc[u]!,
        waiting_time: begin - arrival,
      };
      const coords = p.jobCoordinates[u];
      if (coords) step.location = coords;
      if (p.userMatrix) step.location_index = p.jobLocationIndex[u]!;
      steps.push(step);
      service += p.nodeSvc[u]!;
      waiting += begin - arrival;
      clock = begin + p.nodeSvc[u]!;
    }
    const lastJob = seq[seq.length - 2]!;
    const endNode = seq[seq.length - 1]!;
    travelled += time(lastJob, endNode);
    distance += length(lastJob, endNode);
    if (p.vHasEnd[r]) steps.push(depotStep('end', clock + time(lastJob, endNode), travelled, distance));
    routes.push({
      vehicle: p.vehicleIds[r]!,
      cost: travelled,
      delivery,
      duration: travelled,
      distance,
      service,
      waiting_time: waiting,
      steps,
    });
    totals.cost += travelled;
    totals.duration += travelled;
    totals.distance += distance;
    totals.service += service;
    totals.waiting += waiting;
    for (let d = 0; d < dims; d++) totals.delivery[d]! += delivery[d]!;
  }
  const unassigned: Unassigned[] = [];
  for (let u = 0; u < n; u++) {
    if (sol.routeOf[u]! >= 0) continue;
    unassigned.push({ id: p.jobIds[u]!, type: 'job', reason: p.infeasible.get(u) ?? 'no_vehicle' });
  }
  return {
    code: 0,
    summary: {
      cost: totals.cost,
      routes: routes.length,
      unassigned: unassigned.length,
      delivery: totals.delivery,
      service: totals.service,
      duration: totals.duration,
      distance: totals.distance,
      waiting_time: totals.waiting,
      computing_times: { loading: Math.round(loadingMs), solving: Math.round(solvingMs) },
    },
    routes,
    unassigned,
  };
}
