import type { SeededRandom } from '../../common/rng.js';
import type { Snapshot, Solution } from './solution.js';

/** Settings of the SISR ruin-and-recreate search. */
export interface RuinRecreateOptions {
  /** Stop when performance.now() passes this (ms). */
  deadline: number;
  /** Stop after this many iterations (Infinity for time-limited runs). */
  maxIterations: number;
  /** Annealing temperature at the start, in cost units. */
  startTemperature: number;
  /** Annealing temperature at the end, in cost units. */
  endTemperature: number;
  /** Average number of jobs removed per iteration (SISR's c-bar). */
  averageRemoved: number;
  /** Longest string removed from one route (SISR's L-max). */
  maxStringLength: number;
  /** Probability of skipping a position during reinsertion ("blinks"). */
  blinkRate: number;
  /** Probability that a ruin keeps a sub-string inside the removed string. */
  splitRate: number;
  /** Probability of stopping the growth of the kept sub-string at each step. */
  splitDepth: number;
}

/** Defaults from Christiaens & Vanden Berghe (2020); temperatures are set per instance by the caller. */
export const DEFAULT_RUIN_RECREATE: Omit<
  RuinRecreateOptions,
  'deadline' | 'maxIterations' | 'startTemperature' | 'endTemperature'
> = {
  averageRemoved: 10,
  maxStringLength: 10,
  blinkRate: 0.01,
  splitRate: 0.5,
  splitDepth: 0.01,
};

/** How many of a job's nearest customers propose the routes a reinsertion looks at. */
const INSERTION_NEIGHBOURS = 40;

/** Statistics of one search run. */
export interface RuinRecreateStats {
  /** Iterations performed. */
  iterations: number;
  /** Iterations whose result was accepted. */
  accepted: number;
  /** Iterations that produced a new best solution. */
  improvements: number;
}

/**
 * Slack Induction by String Removals (Christiaens & Vanden Berghe, 2020): remove strings of consecutive jobs
 * from routes near a random seed job, reinsert them greedily (with blinks) in a random or
 * demand/distance/deadline order, and accept by simulated annealing. Leaves the best solution in sol.
 */
export function ruinAndRecreate(
  sol: Solution,
  rng: SeededRandom,
  options: RuinRecreateOptions,
): RuinRecreateStats {
  const search = new Search(sol, rng, options);
  return search.run();
}

/** Mutable state of one SISR run. */
class Search {
  private readonly sol: Solution;
  private readonly rng: SeededRandom;
  private readonly o: RuinRecreateOptions;
  private readonly routeStamp: Int32Array;
  private readonly candidateStamp: Int32Array;
  private readonly routeOk: Uint8Array;
  private readonly touchedRoutes: number[] = [];
  private readonly savedRoutes: number[][] = [];
  private savedCost = 0;
  private stamp = 0;
  private candidateTick = 0;
  private best = Infinity;
  private bestRoute = -1;
  private bestPos = -1;

  /** Binds the search to the solution it improves in place. */
  constructor(sol: Solution, rng: SeededRandom, options: RuinRecreateOptions) {
    this.sol = sol;
    this.rng = rng;
    this.o = options;
    this.routeStamp = new Int32Array(sol.p.m);
    this.candidateStamp = new Int32Array(sol.p.m);
    this.routeOk = new Uint8Array(sol.p.m);
  }

  /** Iterates ruin, recreate and annealing acceptance until the budget is spent; leaves the best in sol. */
  run(): RuinRecreateStats {
    const sol = this.sol;
    const p = sol.p;
    const o = this.o;
    const stats: RuinRecreateStats = { iterations: 0, accepted: 0, improvements: 0 };
    let current = sol.objective();
    let bestValue = current;
    let best: Snapshot = sol.snapshot();
    const startTime = performance.now();
    const span = Math.max(1, o.deadline - startTime);
    const ratio = o.endTemperature / o.startTemperature;
    for (let it = 0; it < o.maxIterations; it++) {
      const now = performance.now();
      if (now >= o.deadline) break;
      // An iteration budget drives the schedule on its own so that runs with one are reproducible.
      const progress = o.maxIterations === Infinity ? (now - startTime) / span : it / o.maxIterations;
      const temperature = o.startTemperature * Math.pow(ratio, progress);
      stats.iterations++;
      this.stamp++;
      this.touchedRoutes.length = 0;
      this.savedRoutes.length = 0;
      this.savedCost = 0;
      const savedUnassigned = sol.unassigned.slice();
      let penaltyBefore = 0;
      for (const u of savedUnassigned) penaltyBefore += p.penalty[u]!;

      const removed = this.ruin();
      for (const u of savedUnassigned) removed.push(u);
      sol.unassigned = [];
      this.recreate(removed);

      let value = current - this.savedCost - penaltyBefore;
      for (const r of this.touchedRoutes) value += sol.routeCost[r]!;
      for (const u of sol.unassigned) value += p.penalty[u]!;
      // Simulated annealing: accept anything better than current plus a random threshold.
      if (value < current - temperature * Math.log(1 - this.rng.next())) {
        current = value;
        stats.accepted++;
        if (value < bestValue - 1e-9) {
          bestValue = value;
          best = sol.snapshot();
          stats.improvements++;
        }
      } else {
        this.undo(savedUnassigned);
      }
    }
    sol.restore(best);
    return stats;
  }

  /** Remembers route r's state before its first change in this iteration. */
  private touch(r: number): void {
    if (this.routeStamp[r] === this.stamp) return;
    this.routeStamp[r] = this.stamp;
    this.touchedRoutes.push(r);
    this.savedRoutes.push(this.sol.routes[r]!);
    this.savedCost += this.sol.routeCost[r]!;
  }

  /** Puts every route changed in this iteration back as it was. */
  private undo(savedUnassigned: number[]): void {
    const sol = this.sol;
    const n = sol.p.n;
    for (const r of this.touchedRoutes) {
      for (const x of sol.routes[r]!) if (x < n) sol.routeOf[x] = -1;
    }
    for (let k = 0; k < this.touchedRoutes.length; k++)
      sol.setRoute(this.touchedRoutes[k]!, this.savedRoutes[k]!);
    sol.unassigned = savedUnassigned;
  }

  /** Removes strings of jobs from routes around a random seed job; returns the removed jobs. */
  private ruin(): number[] {
    const sol = this.sol;
    const p = sol.p;
    const rng = this.rng;
    const removed: number[] = [];
    const assigned = p.n - sol.unassigned.length - p.infeasible.size;
    const used = sol.usedVehicles();
    if (assigned <= 0 || used === 0) return removed;
    const maxString = Math.min(this.o.maxStringLength, assigned / used);
    const maxStrings = (4 * this.o.averageRemoved) / (1 + maxString) - 1;
    const strings = Math.floor(rng.next() * maxStrings) + 1;
    let seed = rng.below(p.n);
    while (sol.routeOf[seed]! < 0) seed = (seed + 1) % p.n;
    const ruined: number[] = [];
    const adjacency = p.adjacency[seed]!;
    for (let k = -1; k < adjacency.length && ruined.length < strings; k++) {
      const c = k < 0 ? seed : adjacency[k]!;
      const r = sol.routeOf[c]!;
      if (r < 0 || ruined.includes(r)) continue;
      ruined.push(r);
      const seq = sol.routes[r]!;
      const len = seq.length - 2;
      const pos = sol.posOf[c]!;
      const l = Math.floor(rng.next() * Math.min(len, maxString)) + 1;
      let kept = 0;
      if (l < len && rng.next() < this.o.splitRate) {
        kept = 1;
        while (l + kept < len && rng.next() >= this.o.splitDepth) kept++;
      }
      const total = l + kept;
      const first = Math.max(1, pos - total + 1);
      const last = Math.min(pos, len - total + 1);
      const start = first + rng.below(last - first + 1);
      const keepFrom = start + rng.below(l + 1);
      const next: number[] = [];
      for (let q = 0; q < seq.length; q++) {
        const x = seq[q]!;
        const inString = q >= start && q < start + total;
        const isKept = q >= keepFrom && q < keepFrom + kept;
        if (inString && !isKept) {
          removed.push(x);
          sol.routeOf[x] = -1;
        } else {
          next.push(x);
        }
      }
      this.touch(r);
      sol.setRoute(r, next);
    }
    return removed;
  }

  /** Sorts the removed jobs by one of SISR's orders (random, demand, far, close) or by deadline. */
  private order(jobs: number[]): void {
    const p = this.sol.p;
    const pick = this.rng.next() * 13;
    if (pick < 4) {
      this.rng.shuffle(jobs);
      return;
    }
    const key = new Map<number, number>();
    for (const u of jobs) {
      // The first vehicle's start stands in for the depot; these orders only need to be roughly right.
      const depot = p.n;
      const far = p.dur[p.nodeLoc[depot]! * p.width + p.nodeLoc[u]!]!;
      let demand = 0;
      for (let d = 0; d < p.dims; d++) demand += p.demand[u * p.dims + d]!;
      key.set(u, pick < 8 ? -demand : pick < 10 ? -far : pick < 11 ? far : p.nodeL[u]!);
    }
    this.rng.shuffle(jobs);
    jobs.sort((a, b) => key.get(a)! - key.get(b)!);
  }

  /** Greedily reinserts the jobs at their cheapest feasible positions, skipping positions at the blink rate. */
  private recreate(jobs: number[]): void {
    const sol = this.sol;
    const p = sol.p;
    this.order(jobs);
    // One unused vehicle per vehicle class is enough: unused vehicles of a class are interchangeable.
    const spare: number[] = [];
    for (const vehicles of p.classVehicles) spare.push(this.firstUnused(vehicles));
    for (const u of jobs) {
      this.best = Infinity;
      this.bestRoute = -1;
      this.bestPos = -1;
      const tick = ++this.candidateTick;
      const adjacency = p.adjacency[u]!;
      const limit = Math.min(adjacency.length, INSERTION_NEIGHBOURS);
      // The cheapest position is next to a near customer or next to a depot of a route near the job.
      for (let k = 0; k < limit; k++) {
        const v = adjacency[k]!;
        const r = sol.routeOf[v]!;
        if (r < 0) continue;
        if (this.candidateStamp[r] !== tick) {
          this.candidateStamp[r] = tick;
          this.routeOk[r] = (p.hasSkills && !p.compat[u * p.m + r]) || !sol.fits(r, u) ? 0 : 1;
          if (this.routeOk[r]) {
            this.tryPosition(r, 0, u, true);
            this.tryPosition(r, sol.routes[r]!.length - 2, u, true);
          }
        }
        if (!this.routeOk[r]) continue;
        const pos = sol.posOf[v]!;
        this.tryPosition(r, pos - 1, u, true);
        this.tryPosition(r, pos, u, true);
      }
      if (this.bestRoute < 0) {
        // Nothing nearby fits: try every position of every used route.
        for (let r = 0; r < p.m; r++) {
          const last = sol.routes[r]!.length - 1;
          if (last < 2 || this.candidateStamp[r] === tick) continue;
          if ((p.hasSkills && !p.compat[u * p.m + r]) || !sol.fits(r, u)) continue;
          for (let q = 0; q < last; q++) this.tryPosition(r, q, u, false);
        }
      }
      for (const r of spare) {
        if (r >= 0 && (!p.hasSkills || p.compat[u * p.m + r]) && sol.fits(r, u))
          this.tryPosition(r, 0, u, false);
      }
      const r = this.bestRoute;
      if (r < 0) {
        sol.unassigned.push(u);
        continue;
      }
      this.touch(r);
      const opened = sol.routes[r]!.length === 2;
      sol.insert(r, this.bestPos, u);
      if (opened) {
        const c = p.vClass[r]!;
        spare[c] = this.firstUnused(p.classVehicles[c]!);
      }
    }
  }

  /** Evaluates inserting u after position q of route r and keeps it if it is the cheapest so far. */
  private tryPosition(r: number, q: number, u: number, blinks: boolean): void {
    if (blinks && this.rng.next() < this.o.blinkRate) return;
    const delta = this.sol.insertionDelta(r, q, u, this.best);
    if (delta < this.best) {
      this.best = delta;
      this.bestRoute = r;
      this.bestPos = q;
    }
  }

  /** The first vehicle of the list that has no job, or -1. */
  private firstUnused(vehicles: readonly number[]): number {
    for (const r of vehicles) if (this.sol.routes[r]!.length === 2) return r;
    return -1;
  }
}
