import { EPS, serviceStart, travel, type Problem } from './problem.js';
import { Solution } from './solution.js';

/** Parameters of Solomon's I1 sequential insertion heuristic. */
export interface I1Params {
  /** Weight of the detour (c11) against the push-forward of the successor (c12). */
  alpha: number;
  /** Weight of the removed arc in the detour. */
  mu: number;
  /** Weight of the depot distance in the selection criterion c2 = lambda * d0u - c1. */
  lambda: number;
  /** How a new route is seeded: the unrouted job farthest from the depot, or the one with the earliest deadline. */
  seed: 'far' | 'due';
}

/** Parameter sets tried by default; the best resulting solution is kept. */
export const DEFAULT_I1_PARAMS: readonly I1Params[] = [
  { alpha: 1, mu: 1, lambda: 1, seed: 'far' },
  { alpha: 0.9, mu: 1, lambda: 1.5, seed: 'far' },
];

/**
 * Solomon's I1 insertion: fills one vehicle at a time, repeatedly inserting the unrouted job with the best
 * c2 criterion at its cheapest feasible position; O(1) feasibility per position from the route's forward
 * earliest-start and backward latest-arrival data.
 */
export function solomonI1(p: Problem, params: I1Params): Solution {
  const sol = new Solution(p);
  const { n, m, dims, nodeSvc, nodeLoc, dur, width } = p;
  const unrouted: number[] = [];
  for (let u = 0; u < n; u++) if (!p.infeasible.has(u)) unrouted.push(u);
  const { alpha, mu, lambda } = params;
  for (let r = 0; r < m && unrouted.length > 0; r++) {
    const inv = p.vInv[r]!;
    const depot = p.vHasStart[r] ? n + r : n + m + r;
    let seedIndex = -1;
    let seedKey = -Infinity;
    for (let k = 0; k < unrouted.length; k++) {
      const u = unrouted[k]!;
      if (p.hasSkills && !p.compat[u * m + r]) continue;
      if (!sol.fits(r, u) || sol.insertionDelta(r, 0, u, Infinity) === Infinity) continue;
      const key = params.seed === 'far' ? travel(p, depot, u) : -p.nodeL[u]!;
      if (key > seedKey) {
        seedKey = key;
        seedIndex = k;
      }
    }
    if (seedIndex < 0) continue;
    sol.insert(r, 0, unrouted[seedIndex]!);
    unrouted[seedIndex] = unrouted[unrouted.length - 1]!;
    unrouted.pop();
    for (;;) {
      const seq = sol.routes[r]!;
      const est = sol.est[r]!;
      const lst = sol.lst[r]!;
      const trav = sol.trav[r]!;
      const load = sol.load[r]!;
      const last = seq.length - 1;
      let bestIndex = -1;
      let bestPos = -1;
      let bestC2 = -Infinity;
      for (let k = 0; k < unrouted.length; k++) {
        const u = unrouted[k]!;
        if (p.hasSkills && !p.compat[u * m + r]) continue;
        let fits = true;
        for (let d = 0; d < dims; d++) {
          if (load[last * dims + d]! + p.demand[u * dims + d]! > p.vCap[r * dims + d]! + EPS) fits = false;
        }
        if (!fits) continue;
        const lu = nodeLoc[u]!;
        let bestC1 = Infinity;
        let pos = -1;
        for (let q = 0; q < last; q++) {
          const a = seq[q]!;
          const b = seq[q + 1]!;
          const au = dur[nodeLoc[a]! * width + lu]! * inv;
          const ub = dur[lu * width + nodeLoc[b]!]! * inv;
          const ab = dur[nodeLoc[a]! * width + nodeLoc[b]!]! * inv;
          const begin = serviceStart(p, u, est[q]! + nodeSvc[a]! + au);
          if (begin === Infinity) continue;
          const arriveB = begin + nodeSvc[u]! + ub;
          if (arriveB > lst[q + 1]! + EPS) continue;
          if (trav[last]! + au + ub - ab > p.vMaxTravel[r]! + EPS) continue;
          const pushForward = serviceStart(p, b, arriveB) - est[q + 1]!;
          const c1 = alpha * (au + ub - mu * ab) + (1 - alpha) * pushForward;
          if (c1 < bestC1) {
            bestC1 = c1;
            pos = q;
          }
        }
        if (pos < 0) continue;
        const c2 = lambda * travel(p, depot, u) * inv - bestC1;
        if (c2 > bestC2) {
          bestC2 = c2;
          bestIndex = k;
          bestPos = pos;
        }
      }
      if (bestIndex < 0) break;
      sol.insert(r, bestPos, unrouted[bestIndex]!);
      unrouted[bestIndex] = unrouted[unrouted.length - 1]!;
      unrouted.pop();
    }
  }
  sol.unassigned = unrouted.sort((a, b) => a - b);
  return sol;
}

/**
 * Inserts each job in turn at its cheapest feasible position over all used routes and one unused vehicle of
 * each kind; jobs that fit nowhere are appended to sol.unassigned. Returns the routes it changed.
 */
export function cheapestInsertion(sol: Solution, jobs: readonly number[]): Set<number> {
  const p = sol.p;
  const changed = new Set<number>();
  for (const u of jobs) {
    let best = Infinity;
    let bestRoute = -1;
    let bestPos = -1;
    const triedClass = new Set<number>();
    for (let r = 0; r < p.m; r++) {
      const last = sol.routes[r]!.length - 1;
      if (last === 1) {
        if (triedClass.has(p.vClass[r]!)) continue;
        triedClass.add(p.vClass[r]!);
      }
      if ((p.hasSkills && !p.compat[u * p.m + r]) || !sol.fits(r, u)) continue;
      for (let q = 0; q < last; q++) {
        const delta = sol.insertionDelta(r, q, u, best);
        if (delta < best) {
          best = delta;
          bestRoute = r;
          bestPos = q;
        }
      }
    }
    if (bestRoute < 0) {
      sol.unassigned.push(u);
      continue;
    }
    sol.insert(bestRoute, bestPos, u);
    changed.add(bestRoute);
  }
  return changed;
}
