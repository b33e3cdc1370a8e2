import { EPS, latestStart, serviceStart, type Problem } from './problem.js';

/** A cheap copy of a solution: route arrays are never mutated in place, so keeping references is enough. */
export interface Snapshot {
  /** Node sequence of every route, depots included. */
  routes: number[][];
  /** Jobs left out. */
  unassigned: number[];
}

/** An empty list for composite evaluations that splice nothing in between prefix and tail. */
export const NONE: readonly number[] = [];

/**
 * A set of routes (one per vehicle) with per-position schedule data for O(1) feasibility checks.
 *
 * For position q of route r: est = earliest service start, lst = latest arrival that keeps the rest of the
 * route feasible, trav = travel time so far, load = cumulative delivery. Route arrays are replaced, never
 * mutated, so snapshots can share them.
 */
export class Solution {
  /** The problem the routes belong to. */
  readonly p: Problem;
  /** Node sequence of each vehicle's route, start and end depots included. */
  routes: number[][];
  /** Route of each job, or -1 when unassigned. */
  readonly routeOf: Int32Array;
  /** Position of each job in its route (1-based; 0 is the start depot). */
  readonly posOf: Int32Array;
  /** Earliest service start per position. */
  readonly est: Float64Array[];
  /** Latest arrival per position that keeps the remainder feasible. */
  readonly lst: Float64Array[];
  /** Cumulative travel time per position. */
  readonly trav: Float64Array[];
  /** Cumulative delivered amount per position and dimension. */
  readonly load: Float64Array[];
  /** Travel cost of each route (0 for an unused vehicle). */
  readonly routeCost: Float64Array;
  /** Jobs not in any route. */
  unassigned: number[];
  private readonly scratch: Float64Array;

  /** Creates a solution with every vehicle unused and every job unassigned. */
  constructor(p: Problem) {
    this.p = p;
    this.routes = [];
    this.routeOf = new Int32Array(p.n).fill(-1);
    this.posOf = new Int32Array(p.n);
    this.est = [];
    this.lst = [];
    this.trav = [];
    this.load = [];
    this.routeCost = new Float64Array(p.m);
    this.scratch = new Float64Array(p.dims);
    this.unassigned = [];
    for (let u = 0; u < p.n; u++) this.unassigned.push(u);
    for (let r = 0; r < p.m; r++) {
      this.est.push(new Float64Array(8));
      this.lst.push(new Float64Array(8));
      this.trav.push(new Float64Array(8));
      this.load.push(new Float64Array(8 * p.dims));
      this.routes.push([]);
      this.setRoute(r, [p.n + r, p.n + p.m + r]);
    }
  }

  /** Number of jobs on route r. */
  size(r: number): number {
    return this.routes[r]!.length - 2;
  }

  /** Total travel cost of all routes. */
  cost(): number {
    let total = 0;
    for (let r = 0; r < this.p.m; r++) total += this.routeCost[r]!;
    return total;
  }

  /** Travel cost plus the penalty of every unassigned job: the value the search minimises. */
  objective(): number {
    let total = this.cost();
    for (const u of this.unassigned) total += this.p.penalty[u]!;
    return total;
  }

  /** Number of vehicles with at least one job. */
  usedVehicles(): number {
    let used = 0;
    for (const seq of this.routes) if (seq.length > 2) used++;
    return used;
  }

  /** Replaces route r by seq (depots included) and recomputes its schedule data. */
  setRoute(r: number, seq: number[]): void {
    const p = this.p;
    const dims = p.dims;
    const last = seq.length - 1;
    if (this.est[r]!.length < seq.length) {
      const size = Math.max(seq.length, 2 * this.est[r]!.length);
      this.est[r] = new Float64Array(size);
      this.lst[r] = new Float64Array(size);
      this.trav[r] = new Float64Array(size);
      this.load[r] = new Float64Array(size * dims);
    }
    this.routes[r] = seq;
    const est = this.est[r]!;
    const lst = this.lst[r]!;
    const trav = this.trav[r]!;
    const load = this.load[r]!;
    const inv = p.vInv[r]!;
    const { dur, width, nodeLoc, nodeSvc, demand, n } = p;
    est[0] = p.nodeE[seq[0]!]!;
    trav[0] = 0;
    for (let d = 0; d < dims; d++) load[d] = 0;
    for (let q = 1; q <= last; q++) {
      const a = seq[q - 1]!;
      const b = seq[q]!;
      const tt = dur[nodeLoc[a]! * width + nodeLoc[b]!]! * inv;
      trav[q] = trav[q - 1]! + tt;
      est[q] = serviceStart(p, b, est[q - 1]! + nodeSvc[a]! + tt);
      for (let d = 0; d < dims; d++)
        load[q * dims + d] = load[(q - 1) * dims + d]! + (b < n ? demand[b * dims + d]! : 0);
      if (b < n) {
        this.routeOf[b] = r;
        this.posOf[b] = q;
      }
    }
    lst[last] = latestStart(p, seq[last]!, Infinity);
    for (let q = last - 1; q >= 0; q--) {
      const a = seq[q]!;
      const tt = dur[nodeLoc[a]! * width + nodeLoc[seq[q + 1]!]!]! * inv;
      lst[q] = latestStart(p, a, lst[q + 1]! - nodeSvc[a]! - tt);
    }
    this.routeCost[r] = last > 1 ? trav[last]! : 0;
  }

  /**
   * Travel cost of the route vehicle r would drive along its own prefix up to position i, then the nodes
   * list[0..k), then route b's jobs from position j on, then r's end depot; -1 when that route is infeasible.
   */
  evalComposite(r: number, i: number, list: ArrayLike<number>, k: number, b: number, j: number): number {
    const p = this.p;
    const seqB = this.routes[b]!;
    const lenB = seqB.length - 2;
    if (i === 0 && k === 0 && j > lenB) return 0;
    const { dur, width, nodeLoc, nodeSvc, demand, dims, n, m } = p;
    const inv = p.vInv[r]!;
    const load = this.scratch;
    const loadR = this.load[r]!;
    for (let d = 0; d < dims; d++) load[d] = loadR[i * dims + d]!;
    let node = this.routes[r]![i]!;
    let time = this.est[r]![i]!;
    let cost = this.trav[r]![i]!;
    for (let q = 0; q < k; q++) {
      const x = list[q]!;
      if (p.hasSkills && !p.compat[x * m + r]) return -1;
      const tt = dur[nodeLoc[node]! * width + nodeLoc[x]!]! * inv;
      cost += tt;
      time = serviceStart(p, x, time + nodeSvc[node]! + tt);
      if (time === Infinity) return -1;
      for (let d = 0; d < dims; d++) load[d] = load[d]! + demand[x * dims + d]!;
      node = x;
    }
    if (b === r || (p.vEndClass[b] === p.vEndClass[r] && !p.hasSkills)) {
      // Same end depot, shift end and speed: b's backward data is valid for r.
      const target = seqB[j]!;
      const tt = dur[nodeLoc[node]! * width + nodeLoc[target]!]! * inv;
      if (time + nodeSvc[node]! + tt > this.lst[b]![j]! + EPS) return -1;
      const travB = this.trav[b]!;
      cost += tt + travB[lenB + 1]! - travB[j]!;
      const loadB = this.load[b]!;
      for (let d = 0; d < dims; d++)
        load[d] = load[d]! + loadB[(lenB + 1) * dims + d]! - loadB[(j - 1) * dims + d]!;
    } else {
      for (let q = j; q <= lenB + 1; q++) {
        const x = q <= lenB ? seqB[q]! : n + m + r;
        if (x < n && p.hasSkills && !p.compat[x * m + r]) return -1;
        const tt = dur[nodeLoc[node]! * width + nodeLoc[x]!]! * inv;
        cost += tt;
        time = serviceStart(p, x, time + nodeSvc[node]! + tt);
        if (time === Infinity) return -1;
        if (x < n) for (let d = 0; d < dims; d++) load[d] = load[d]! + demand[x * dims + d]!;
        node = x;
      }
    }
    for (let d = 0; d < dims; d++) if (load[d]! > p.vCap[r * dims + d]! + EPS) return -1;
    if (cost > p.vMaxTravel[r]! + EPS) return -1;
    return cost;
  }

  /** The node sequence evalComposite(r, i, list, k, b, j) describes, as a new array. */
  compose(r: number, i: number, list: ArrayLike<number>, k: number, b: number, j: number): number[] {
    const seqR = this.routes[r]!;
    const seqB = this.routes[b]!;
    const out = seqR.slice(0, i + 1);
    for (let q = 0; q < k; q++) out.push(list[q]!);
    for (let q = j; q < seqB.length - 1; q++) out.push(seqB[q]!);
    out.push(seqR[seqR.length - 1]!);
    return out;
  }

  /** Whether route r has room for job u's delivery in every dimension. */
  fits(r: number, u: number): boolean {
    const { dims, demand, vCap } = this.p;
    const load = this.load[r]!;
    const last = this.routes[r]!.length - 1;
    for (let d = 0; d < dims; d++) {
      if (load[last * dims + d]! + demand[u * dims + d]! > vCap[r * dims + d]! + EPS) return false;
    }
    return true;
  }

  /**
   * Change in route r's cost from inserting job u after position q, or Infinity when that breaks a time window,
   * the shift or max travel time, or is not below bound (capacity and skills are the caller's checks).
   */
  insertionDelta(r: number, q: number, u: number, bound: number): number {
    const p = this.p;
    const seq = this.routes[r]!;
    const a = seq[q]!;
    const b = seq[q + 1]!;
    const { dur, width, nodeLoc, nodeSvc } = p;
    const inv = p.vInv[r]!;
    const lu = nodeLoc[u]!;
    const au = dur[nodeLoc[a]! * width + lu]! * inv;
    const ub = dur[lu * width + nodeLoc[b]!]! * inv;
    // An unused vehicle costs nothing, so its first job pays the whole depot round trip.
    const delta = seq.length === 2 ? au + ub : au + ub - dur[nodeLoc[a]! * width + nodeLoc[b]!]! * inv;
    if (delta >= bound) return Infinity;
    const begin = serviceStart(p, u, this.est[r]![q]! + nodeSvc[a]! + au);
    if (begin === Infinity || begin + nodeSvc[u]! + ub > this.lst[r]![q + 1]! + EPS) return Infinity;
    const maxTravel = p.vMaxTravel[r]!;
    if (maxTravel !== Infinity) {
      const travel = this.trav[r]![seq.length - 1]! + au + ub - dur[nodeLoc[a]! * width + nodeLoc[b]!]! * inv;
      if (travel > maxTravel + EPS) return Infinity;
    }
    return delta;
  }

  /** Inserts job u after position q of route r (the caller has checked feasibility). */
  insert(r: number, q: number, u: number): void {
    const seq = this.routes[r]!;
    const next = seq.slice(0, q + 1);
    next.push(u);
    for (let x = q + 1; x < seq.length; x++) next.push(seq[x]!);
    this.setRoute(r, next);
  }

  /** A snapshot that restore() can return to. */
  snapshot(): Snapshot {
    return { routes: this.routes.slice(), unassigned: this.unassigned.slice() };
  }

  /** Returns to a snapshot taken from a solution of the same problem. */
  restore(s: Snapshot): void {
    this.routeOf.fill(-1);
    for (let r = 0; r < this.p.m; r++) this.setRoute(r, s.routes[r]!);
    this.unassigned = s.unassigned.slice();
  }
}
