import { EPS } from './problem.js';
import type { SeededRandom } from '../../common/rng.js';
import { NONE, type Solution } from './solution.js';

/**
 * Granular first-improvement local search: relocate, swap, 2-opt* (both tail exchanges), or-opt of
 * segments of 2-3 jobs, and intra-route 2-opt, each tried only between a job and its nearest neighbours.
 * Pairs whose routes have not changed since the job was last examined are skipped.
 */
export class LocalSearch {
  private readonly sol: Solution;
  private readonly rng: SeededRandom;
  private readonly lastTested: Int32Array;
  private readonly modified: Int32Array;
  private readonly buf: number[] = [];
  private readonly seg: number[] = [0, 0, 0];
  private moves = 0;

  /** Creates a search bound to one solution, which it improves in place. */
  constructor(sol: Solution, rng: SeededRandom) {
    this.sol = sol;
    this.rng = rng;
    this.lastTested = new Int32Array(sol.p.n);
    this.modified = new Int32Array(sol.p.m);
  }

  /** Runs until no move improves or the deadline (performance.now() ms) passes; returns whether anything improved. */
  run(deadline: number, only?: ReadonlySet<number>): boolean {
    const sol = this.sol;
    const p = sol.p;
    const order: number[] = [];
    for (let u = 0; u < p.n; u++)
      if (sol.routeOf[u]! >= 0 && (!only || only.has(sol.routeOf[u]!))) order.push(u);
    this.rng.shuffle(order);
    const startMoves = this.moves;
    let loop = 0;
    let improved = true;
    while (improved) {
      improved = false;
      for (const u of order) {
        if (performance.now() > deadline) return this.moves > startMoves;
        if (sol.routeOf[u]! < 0) continue;
        const lastTest = this.lastTested[u]!;
        this.lastTested[u] = this.moves;
        for (const v of p.neighbours[u]!) {
          const ru = sol.routeOf[u]!;
          const rv = sol.routeOf[v]!;
          if (rv < 0) continue;
          if (loop > 0 && Math.max(this.modified[ru]!, this.modified[rv]!) <= lastTest) continue;
          if (ru !== rv ? this.interMoves(u, v) : this.intraMoves(u, v)) improved = true;
        }
      }
      loop++;
    }
    return this.moves > startMoves;
  }

  /** Travel time between two nodes before the speed factor. */
  private d(a: number, b: number): number {
    const p = this.sol.p;
    return p.dur[p.nodeLoc[a]! * p.width + p.nodeLoc[b]!]!;
  }

  /** Records an applied move so the skip test re-examines the routes it touched. */
  private touched(r1: number, r2: number): void {
    this.moves++;
    this.modified[r1] = this.moves;
    this.modified[r2] = this.moves;
  }

  /** Applies a two-route move if both new routes are feasible and cheaper in total; returns whether it did. */
  private tryTwo(
    r1: number,
    i1: number,
    list1: ArrayLike<number>,
    k1: number,
    b1: number,
    j1: number,
    r2: number,
    i2: number,
    list2: ArrayLike<number>,
    k2: number,
    b2: number,
    j2: number,
  ): boolean {
    const sol = this.sol;
    const c1 = sol.evalComposite(r1, i1, list1, k1, b1, j1);
    if (c1 < 0) return false;
    const c2 = sol.evalComposite(r2, i2, list2, k2, b2, j2);
    if (c2 < 0) return false;
    if (c1 + c2 >= sol.routeCost[r1]! + sol.routeCost[r2]! - EPS) return false;
    // Both sequences are built before either route changes, since each may read the other's tail.
    const s1 = sol.compose(r1, i1, list1, k1, b1, j1);
    const s2 = sol.compose(r2, i2, list2, k2, b2, j2);
    sol.setRoute(r1, s1);
    sol.setRoute(r2, s2);
    this.touched(r1, r2);
    return true;
  }

  /** Moves between the routes of u and its neighbour v; applies the first improving one. */
  private interMoves(u: number, v: number): boolean {
    const sol = this.sol;
    const p = sol.p;
    const r1 = sol.routeOf[u]!;
    const r2 = sol.routeOf[v]!;
    const s1 = sol.routes[r1]!;
    const s2 = sol.routes[r2]!;
    const pu = sol.posOf[u]!;
    const pv = sol.posOf[v]!;
    const len1 = s1.length - 2;
    const i1 = p.vInv[r1]!;
    const i2 = p.vInv[r2]!;
    const uPrev = s1[pu - 1]!;
    const uNext = s1[pu + 1]!;
    const vPrev = s2[pv - 1]!;
    const vNext = s2[pv + 1]!;
    const d = (a: number, b: number): number => this.d(a, b);
    const seg = this.seg;
    const removeU = i1 * (d(uPrev, uNext) - d(uPrev, u) - d(u, uNext));
    const compatU = !p.hasSkills || p.compat[u * p.m + r2] === 1;
    const compatV = !p.hasSkills || p.compat[v * p.m + r1] === 1;

    if (compatU) {
      seg[0] = u;
      // Relocate u after v.
      if (removeU + i2 * (d(v, u) + d(u, vNext) - d(v, vNext)) < -EPS) {
        if (this.tryTwo(r1, pu - 1, NONE, 0, r1, pu + 1, r2, pv, seg, 1, r2, pv + 1)) return true;
      }
      // Relocate u before v.
      if (removeU + i2 * (d(vPrev, u) + d(u, v) - d(vPrev, v)) < -EPS) {
        if (this.tryTwo(r1, pu - 1, NONE, 0, r1, pu + 1, r2, pv - 1, seg, 1, r2, pv)) return true;
      }
    }
    // Swap u and v.
    if (compatU && compatV) {
      const delta =
        i1 * (d(uPrev, v) + d(v, uNext) - d(uPrev, u) - d(u, uNext)) +
        i2 * (d(vPrev, u) + d(u, vNext) - d(vPrev, v) - d(v, vNext));
      if (delta < -EPS) {
        const a = [v];
        const b = [u];
        if (this.tryTwo(r1, pu - 1, a, 1, r1, pu + 1, r2, pv - 1, b, 1, r2, pv + 1)) return true;
      }
    }
    const sameSpeed = i1 === i2;
    // 2-opt*: u's route continues with v's tail (creates u -> v).
    if (!sameSpeed || i1 * (d(u, v) + d(vPrev, uNext) - d(u, uNext) - d(vPrev, v)) < -EPS) {
      if (this.tryTwo(r1, pu, NONE, 0, r2, pv, r2, pv - 1, NONE, 0, r1, pu + 1)) return true;
    }
    // 2-opt*: v's route continues with u's tail (creates v -> u).
    if (!sameSpeed || i1 * (d(v, u) + d(uPrev, vNext) - d(v, vNext) - d(uPrev, u)) < -EPS) {
      if (this.tryTwo(r1, pu - 1, NONE, 0, r2, pv + 1, r2, pv, NONE, 0, r1, pu)) return true;
    }
    // Or-opt: the segment starting at u goes after v, or the segment ending at u goes before v.
    for (let len = 2; len <= 3; len++) {
      if (pu + len - 1 <= len1) {
        const last = s1[pu + len - 1]!;
        const after = s1[pu + len]!;
        const delta =
          i1 * (d(uPrev, after) - d(uPrev, u) - d(last, after)) +
          i2 * (d(v, u) + d(last, vNext) - d(v, vNext));
        if (delta < -EPS) {
          for (let x = 0; x < len; x++) seg[x] = s1[pu + x]!;
          if (this.tryTwo(r1, pu - 1, NONE, 0, r1, pu + len, r2, pv, seg, len, r2, pv + 1)) return true;
        }
      }
      if (pu - len + 1 >= 1) {
        const first = s1[pu - len + 1]!;
        const before = s1[pu - len]!;
        const delta =
          i1 * (d(before, uNext) - d(before, first) - d(u, uNext)) +
          i2 * (d(vPrev, first) + d(u, v) - d(vPrev, v));
        if (delta < -EPS) {
          for (let x = 0; x < len; x++) seg[x] = s1[pu - len + 1 + x]!;
          if (this.tryTwo(r1, pu - len, NONE, 0, r1, pu + 1, r2, pv - 1, seg, len, r2, pv)) return true;
        }
      }
    }
    return false;
  }

  /** Replaces positions a..b of route r by buf[0..k) if feasible and cheaper; returns whether it did. */
  private tryWindow(r: number, a: number, b: number, k: number): boolean {
    const sol = this.sol;
    const p = sol.p;
    const seq = sol.routes[r]!;
    const trav = sol.trav[r]!;
    const buf = this.buf;
    let cost = 0;
    let prev = seq[a - 1]!;
    for (let q = 0; q < k; q++) {
      cost += this.d(prev, buf[q]!);
      prev = buf[q]!;
    }
    cost += this.d(prev, seq[b + 1]!);
    if (cost * p.vInv[r]! >= trav[b + 1]! - trav[a - 1]! - EPS) return false;
    const c = sol.evalComposite(r, a - 1, buf, k, r, b + 1);
    if (c < 0 || c >= sol.routeCost[r]! - EPS) return false;
    sol.setRoute(r, sol.compose(r, a - 1, buf, k, r, b + 1));
    this.touched(r, r);
    return true;
  }

  /** Moves within the route shared by u and its neighbour v; applies the first improving one. */
  private intraMoves(u: number, v: number): boolean {
    const sol = this.sol;
    const r = sol.routeOf[u]!;
    const seq = sol.routes[r]!;
    const pu = sol.posOf[u]!;
    const pv = sol.posOf[v]!;
    const len = seq.length - 2;
    const buf = this.buf;
    // Relocate u right after v, then right before v (after v's predecessor).
    for (const target of [pv, pv - 1]) {
      if (target === pu || target === pu - 1) continue;
      buf.length = 0;
      if (pu < target) {
        for (let q = pu + 1; q <= target; q++) buf.push(seq[q]!);
        buf.push(u);
        if (this.tryWindow(r, pu, target, buf.length)) return true;
      } else {
        buf.push(u);
        for (let q = target + 1; q < pu; q++) buf.push(seq[q]!);
        if (this.tryWindow(r, target + 1, pu, buf.length)) return true;
      }
    }
    const lo = Math.min(pu, pv);
    const hi = Math.max(pu, pv);
    // Swap u and v.
    buf.length = 0;
    buf.push(seq[hi]!);
    for (let q = lo + 1; q < hi; q++) buf.push(seq[q]!);
    buf.push(seq[lo]!);
    if (this.tryWindow(r, lo, hi, buf.length)) return true;
    // 2-opt: reverse the stretch between the two so that they become adjacent.
    if (hi - lo >= 2) {
      buf.length = 0;
      for (let q = hi; q > lo; q--) buf.push(seq[q]!);
      if (this.tryWindow(r, lo + 1, hi, buf.length)) return true;
    }
    // Or-opt: move the 2-3 job segment starting at u right after v.
    for (let segLen = 2; segLen <= 3; segLen++) {
      const end = pu + segLen - 1;
      if (end > len || (pv >= pu && pv <= end)) continue;
      buf.length = 0;
      if (pv > end) {
        for (let q = end + 1; q <= pv; q++) buf.push(seq[q]!);
        for (let q = pu; q <= end; q++) buf.push(seq[q]!);
        if (this.tryWindow(r, pu, pv, buf.length)) return true;
      } else if (pv < pu - 1) {
        for (let q = pu; q <= end; q++) buf.push(seq[q]!);
        for (let q = pv + 1; q < pu; q++) buf.push(seq[q]!);
        if (this.tryWindow(r, pv + 1, end, buf.length)) return true;
      }
    }
    return false;
  }
}
