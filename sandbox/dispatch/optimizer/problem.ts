import { buildTravelMatrix } from './travel.js';
import type { Coordinates, Matrix, OptimizeInput, UnassignedReason } from './types.js';

/** Tolerance for floating-point sums of times, loads and distances. */
export const EPS = 1e-6;

/** How many granular neighbours local search looks at per customer. */
const GRANULAR_NEIGHBOURS = 40;

/** How many nearest customers the ruin step walks through to find routes to ruin. */
const ADJACENCY_SIZE = 100;

/**
 * The optimiser's flat, index-based view of an OptimizeInput.
 *
 * Nodes are numbered jobs 0..n-1, vehicle start depots n..n+m-1 and vehicle end depots n+m..n+2m-1, so a
 * route is one array of node numbers and every lookup is a typed-array read.
 */
export interface Problem {
  /** Number of jobs. */
  n: number;
  /** Number of vehicles. */
  m: number;
  /** Number of amount dimensions (length of delivery / capacity). */
  dims: number;
  /** Matrix width: real locations plus one phantom "nowhere" location for vehicles without a start or end. */
  width: number;
  /** Travel durations, row-major width x width. */
  dur: Float64Array;
  /** Travel distances, row-major width x width. */
  dist: Float64Array;
  /** Matrix location of every node. */
  nodeLoc: Int32Array;
  /** Service duration of every node (0 for depots). */
  nodeSvc: Float64Array;
  /** Earliest window start of every node. */
  nodeE: Float64Array;
  /** Latest window end of every node. */
  nodeL: Float64Array;
  /** 1 when the node has exactly one time window (the fast path). */
  single: Uint8Array;
  /** Window list of node i is winStart/winEnd[winOffset[i] .. winOffset[i+1]). */
  winOffset: Int32Array;
  /** Start of each time window, sorted per node. */
  winStart: Float64Array;
  /** End of each time window, sorted per node. */
  winEnd: Float64Array;
  /** Delivery amounts, n x dims. */
  demand: Float64Array;
  /** Vehicle capacities, m x dims. */
  vCap: Float64Array;
  /** Vehicle maximum travel time (Infinity when unbounded). */
  vMaxTravel: Float64Array;
  /** 1 / speed_factor: multiplies matrix durations into the vehicle's travel times. */
  vInv: Float64Array;
  /** Vehicles with equal end class share end depot, shift end and speed, so route tails can move between them. */
  vEndClass: Int32Array;
  /** Vehicles with equal class are interchangeable; only one empty vehicle per class needs to be tried. */
  vClass: Int32Array;
  /** Vehicles of each class, in input order. */
  classVehicles: number[][];
  /** 1 when vehicle v has a start location. */
  vHasStart: Uint8Array;
  /** 1 when vehicle v has an end location. */
  vHasEnd: Uint8Array;
  /** compat[j * m + v] is 1 when vehicle v has every skill job j needs. */
  compat: Uint8Array;
  /** Whether any job needs skills (otherwise compatibility checks are skipped). */
  hasSkills: boolean;
  /** Whether the caller gave a matrix (so its location indices belong in the output). */
  userMatrix: boolean;
  /** Granular neighbour lists used by local search. */
  neighbours: Int32Array[];
  /** Nearest customers by travel time, used by the string ruin. */
  adjacency: Int32Array[];
  /** Cost charged for leaving a job unassigned, far above any route cost. */
  penalty: Float64Array;
  /** Jobs that no vehicle can serve even alone, with the reason. */
  infeasible: Map<number, UnassignedReason>;
  /** Mean travel time of the arcs to granular neighbours, the cost scale for annealing temperatures. */
  arcScale: number;
  /** External job ids by index. */
  jobIds: number[];
  /** External vehicle ids by index. */
  vehicleIds: number[];
  /** Job index by external id. */
  jobIndex: Map<number, number>;
  /** Location index of each job in the caller's matrix (for the output). */
  jobLocationIndex: number[];
  /** Coordinates of each job, when known. */
  jobCoordinates: (Coordinates | undefined)[];
  /** Caller's matrix index of each vehicle's start/end, when known. */
  vehicleLocationIndex: { start: number | undefined; end: number | undefined }[];
  /** Coordinates of each vehicle's start/end, when known. */
  vehicleCoordinates: { start: Coordinates | undefined; end: Coordinates | undefined }[];
}

/** Raised when the input is structurally valid but cannot be turned into a problem (missing locations etc.). */
export class OptimizeInputError extends Error {
  /** Creates the error with a message naming the offending field. */
  constructor(message: string) {
    super(message);
    this.name = 'OptimizeInputError';
  }
}

/** Resolves every job and vehicle to a matrix index, building a haversine matrix when none is given. */
function resolveLocations(input: OptimizeInput): {
  matrix: Matrix;
  job: number[];
  start: (number | undefined)[];
  end: (number | undefined)[];
} {
  if (input.matrix) {
    const size = input.matrix.durations.length;
    if (input.matrix.distances.length !== size)
      throw new OptimizeInputError('matrix distances and durations differ in size');
    for (let i = 0; i < size; i++) {
      if (input.matrix.durations[i]!.length !== size || input.matrix.distances[i]!.length !== size) {
        throw new OptimizeInputError(`matrix row ${i} is not of length ${size}`);
      }
    }
    const check = (index: number | undefined, what: string): number | undefined => {
      if (index !== undefined && index >= size) throw new OptimizeInputError(`${what} is outside the matrix`);
      return index;
    };
    const job = input.jobs.map((j) => {
      if (j.location_index === undefined) throw new OptimizeInputError(`job ${j.id} has no location_index`);
      return check(j.location_index, `job ${j.id} location_index`)!;
    });
    const start = input.vehicles.map((v) => {
      if (v.start_index === undefined && v.start)
        throw new OptimizeInputError(`vehicle ${v.id} needs start_index`);
      return check(v.start_index, `vehicle ${v.id} start_index`);
    });
    const end = input.vehicles.map((v) => {
      if (v.end_index === undefined && v.end) throw new OptimizeInputError(`vehicle ${v.id} needs end_index`);
      return check(v.end_index, `vehicle ${v.id} end_index`);
    });
    return { matrix: input.matrix, job, start, end };
  }
  const points: Coordinates[] = [];
  const seen = new Map<string, number>();
  const indexOf = (c: Coordinates): number => {
    const key = `${c[0]},${c[1]}`;
    let index = seen.get(key);
    if (index === undefined) {
      index = points.length;
      points.push(c);
      seen.set(key, index);
    }
    return index;
  };
  const job = input.jobs.map((j) => {
    if (!j.location) throw new OptimizeInputError(`job ${j.id} has no location and there is no matrix`);
    return indexOf(j.location);
  });
  const start = input.vehicles.map((v) => (v.start ? indexOf(v.start) : undefined));
  const end = input.vehicles.map((v) => (v.end ? indexOf(v.end) : undefined));
  const options = input.options ?? {};
  const travel: { roadFactor?: number; speedKmh?: number } = {};
  if (options.roadFactor !== undefined) travel.roadFactor = options.roadFactor;
  if (options.speedKmh !== undefined) travel.speedKmh = options.speedKmh;
  return { matrix: buildTravelMatrix(points, travel), job, start, end };
}

/** Returns the k smallest keys' indices in increasing key order, skipping non-finite keys. */
function smallestK(keys: Float64Array, k: number): Int32Array {
  const sorted = Float64Array.from(keys).sort();
  const finite = sorted.findIndex((x) => !Number.isFinite(x));
  const available = finite < 0 ? sorted.length : finite;
  const take = Math.min(k, available);
  if (take === 0) return new Int32Array(0);
  const threshold = sorted[take - 1]!;
  const picked: number[] = [];
  for (let i = 0; i < keys.length; i++) if (keys[i]! <= threshold) picked.push(i);
  picked.sort((a, b) => keys[a]! - keys[b]! || a - b);
  return Int32Array.from(picked.slice(0, take));
}

/** Builds the flat problem from a validated input. */
export function buildProblem(input: OptimizeInput): Problem {
  const { matrix, job: jobLoc, start: startLoc, end: endLoc } = resolveLocations(input);
  const n = input.jobs.length;
  const m = input.vehicles.length;
  const size = matrix.durations.length;
  const width = size + 1;
  const phantom = size;
  const dur = new Float64Array(width * width);
  const dist = new Float64Array(width * width);
  let maxDur = 0;
  for (let i = 0; i < size; i++) {
    const dRow = matrix.durations[i]!;
    const xRow = matrix.distances[i]!;
    for (let j = 0; j < size; j++) {
      const d = dRow[j]!;
      dur[i * width + j] = d;
      dist[i * width + j] = xRow[j]!;
      if (d > maxDur) maxDur = d;
    }
  }

  let dims = 1;
  for (const j of input.jobs) dims = Math.max(dims, j.delivery.length);
  for (const v of input.vehicles) dims = Math.max(dims, v.capacity.length);
  const nodes = n + 2 * m;
  const nodeLoc = new Int32Array(nodes);
  const nodeSvc = new Float64Array(nodes);
  const nodeE = new Float64Array(nodes);
  const nodeL = new Float64Array(nodes);
  const single = new Uint8Array(nodes);
  const winOffset = new Int32Array(nodes + 1);
  const starts: number[] = [];
  const ends: number[] = [];
  const addWindows = (node: number, windows: readonly (readonly [number, number])[]): void => {
    // A job without windows may be served at any time.
    const list =
      windows.length > 0 ? [...windows].sort((a, b) => a[0] - b[0]) : [[-Infinity, Infinity] as const];
    winOffset[node] = starts.length;
    for (const [s, e] of list) {
      starts.push(s);
      ends.push(e);
    }
    nodeE[node] = list[0]![0];
    nodeL[node] = Math.max(...list.map((w) => w[1]));
    single[node] = list.length === 1 ? 1 : 0;
  };
  const demand = new Float64Array(n * dims);
  let maxSvc = 0;
  input.jobs.forEach((j, u) => {
    nodeLoc[u] = jobLoc[u]!;
    nodeSvc[u] = j.service;
    maxSvc = Math.max(maxSvc, j.service);
    addWindows(u, j.time_windows);
    j.delivery.forEach((amount, d) => (demand[u * dims + d] = amount));
  });
  const vCap = new Float64Array(m * dims);
  const vMaxTravel = new Float64Array(m);
  const vInv = new Float64Array(m);
  const vHasStart = new Uint8Array(m);
  const vHasEnd = new Uint8Array(m);
  input.vehicles.forEach((v, r) => {
    const s = startLoc[r];
    const e = endLoc[r];
    nodeLoc[n + r] = s ?? phantom;
    nodeLoc[n + m + r] = e ?? phantom;
    vHasStart[r] = s === undefined ? 0 : 1;
    vHasEnd[r] = e === undefined ? 0 : 1;
    addWindows(n + r, [v.time_window]);
    addWindows(n + m + r, [v.time_window]);
    v.capacity.forEach((amount, d) => (vCap[r * dims + d] = amount));
    vMaxTravel[r] = v.max_travel_time ?? Infinity;
    vInv[r] = 1 / (v.speed_factor ?? 1);
  });
  winOffset[nodes] = starts.length;

  const endClassKeys = new Map<string, number>();
  const classKeys = new Map<string, number>();
  const vEndClass = new Int32Array(m);
  const vClass = new Int32Array(m);
  input.vehicles.forEach((v, r) => {
    const endKey = `${nodeLoc[n + m + r]}|${v.time_window[1]}|${vInv[r]}`;
    if (!endClassKeys.has(endKey)) endClassKeys.set(endKey, endClassKeys.size);
    vEndClass[r] = endClassKeys.get(endKey)!;
    const skills = [...(v.skills ?? [])].sort((a, b) => a - b).join(',');
    const key = `${endKey}|${nodeLoc[n + r]}|${v.time_window[0]}|${v.capacity.join(',')}|${vMaxTravel[r]}|${skills}`;
    if (!classKeys.has(key)) classKeys.set(key, classKeys.size);
    vClass[r] = classKeys.get(key)!;
  });

  const compat = new Uint8Array(n * m).fill(1);
  const hasSkills = input.jobs.some((j) => (j.skills ?? []).length > 0);
  if (hasSkills) {
    const vehicleSkills = input.vehicles.map((v) => new Set(v.skills ?? []));
    input.jobs.forEach((j, u) => {
      for (let r = 0; r < m; r++) {
        compat[u * m + r] = (j.skills ?? []).every((s) => vehicleSkills[r]!.has(s)) ? 1 : 0;
      }
    });
  }

  const problem: Problem = {
    n,
    m,
    dims,
    width,
    dur,
    dist,
    nodeLoc,
    nodeSvc,
    nodeE,
    nodeL,
    single,
    winOffset,
    winStart: Float64Array.from(starts),
    winEnd: Float64Array.from(ends),
    demand,
    vCap,
    vMaxTravel,
    vInv,
    vEndClass,
    vClass,
    classVehicles: [],
    vHasStart,
    vHasEnd,
    compat,
    hasSkills,
    userMatrix: input.matrix !== undefined,
    neighbours: [],
    adjacency: [],
    penalty: new Float64Array(n),
    infeasible: new Map(),
    arcScale: 1,
    jobIds: input.jobs.map((j) => j.id),
    vehicleIds: input.vehicles.map((v) => v.id),
    jobIndex: new Map(input.jobs.map((j, u) => [j.id, u])),
    jobLocationIndex: jobLoc,
    jobCoordinates: input.jobs.map((j) => j.location),
    vehicleLocationIndex: input.vehicles.map((_, r) => ({ start: startLoc[r], end: endLoc[r] })),
    vehicleCoordinates: input.vehicles.map((v) => ({ start: v.start, end: v.end })),
  };
  for (let r = 0; r < m; r++) {
    const c = vClass[r]!;
    while (problem.classVehicles.length <= c) problem.classVehicles.push([]);
    problem.classVehicles[c]!.push(r);
  }
  if (problem.jobIndex.size !== n) throw new OptimizeInputError('job ids must be unique');

  // Leaving a job out must always cost more than any detour, whatever its priority.
  const base = 1000 * (2 * maxDur + maxSvc + 1);
  input.jobs.forEach((j, u) => (problem.penalty[u] = base * (1 + (j.priority ?? 0))));

  buildNeighbourhoods(problem);
  classifyInfeasible(problem);
  return problem;
}

/** Fills the granular neighbour lists (time-window compatible nearest customers) and the ruin adjacency. */
function buildNeighbourhoods(p: Problem): void {
  const { n, width, dur, nodeLoc, nodeE, nodeL, nodeSvc } = p;
  const keys = new Float64Array(n);
  const near = new Float64Array(n);
  let arcSum = 0;
  let arcCount = 0;
  for (let u = 0; u < n; u++) {
    const lu = nodeLoc[u]!;
    for (let v = 0; v < n; v++) {
      if (v === u) {
        keys[v] = Infinity;
        near[v] = Infinity;
        continue;
      }
      const lv = nodeLoc[v]!;
      const uv = dur[lu * width + lv]!;
      const vu = dur[lv * width + lu]!;
      near[v] = uv + vu;
      // A neighbour is only useful if at least one visiting order fits both windows.
      const forward = nodeE[u]! + nodeSvc[u]! + uv <= nodeL[v]! + EPS;
      const backward = nodeE[v]! + nodeSvc[v]! + vu <= nodeL[u]! + EPS;
      keys[v] = forward || backward ? uv + vu : Infinity;
    }
    const list = smallestK(keys, GRANULAR_NEIGHBOURS);
    p.neighbours.push(list);
    p.adjacency.push(smallestK(near, ADJACENCY_SIZE));
    for (const v of list) {
      arcSum += dur[lu * width + nodeLoc[v]!]!;
      arcCount++;
    }
  }
  p.arcScale = arcCount > 0 && arcSum > 0 ? arcSum / arcCount : 1;
}

/** Marks jobs that no compatible vehicle can serve even on a route of their own, with the reason. */
function classifyInfeasible(p: Problem): void {
  const { n, m, dims } = p;
  for (let u = 0; u < n; u++) {
    let compatible = false;
    let capacityOk = false;
    let windowOk = false;
    let feasible = false;
    for (let r = 0; r < m && !feasible; r++) {
      if (!p.compat[u * m + r]) continue;
      compatible = true;
      let fits = true;
      for (let d = 0; d < dims; d++) if (p.demand[u * dims + d]! > p.vCap[r * dims + d]! + EPS) fits = false;
      if (!fits) continue;
      capacityOk = true;
      const inv = p.vInv[r]!;
      const toJob = travel(p, n + r, u) * inv;
      const begin = serviceStart(p, u, p.nodeE[n + r]! + toJob);
      if (begin === Infinity) continue;
      windowOk = true;
      const back = travel(p, u, n + m + r) * inv;
      const arrival = begin + p.nodeSvc[u]! + back;
      feasible = arrival <= p.nodeL[n + m + r]! + EPS && toJob + back <= p.vMaxTravel[r]! + EPS;
    }
    if (feasible) continue;
    const reason: UnassignedReason = !compatible
      ? 'skills'
      : !capacityOk
        ? 'capacity'
        : !windowOk
          ? 'time_window'
          : 'shift';
    p.infeasible.set(u, m === 0 ? 'no_vehicle' : reason);
  }
}

/** Matrix travel duration between two nodes, before the vehicle's speed factor. */
export function travel(p: Problem, a: number, b: number): number {
  return p.dur[p.nodeLoc[a]! * p.width + p.nodeLoc[b]!]!;
}

/** Earliest service start at node when arriving at time arrival, or Infinity if every window has closed. */
export function serviceStart(p: Problem, node: number, arrival: number): number {
  if (p.single[node]) {
    if (arrival > p.nodeL[node]! + EPS) return Infinity;
    const e = p.nodeE[node]!;
    return arrival < e ? e : arrival;
  }
  for (let k = p.winOffset[node]!, end = p.winOffset[node + 1]!; k < end; k++) {
    if (arrival <= p.winEnd[k]! + EPS) return Math.max(arrival, p.winStart[k]!);
  }
  return Infinity;
}

/** Latest service start at node that is no later than bound and inside a window, or -Infinity if none. */
export function latestStart(p: Problem, node: number, bound: number): number {
  if (p.single[node]) {
    if (bound < p.nodeE[node]! - EPS) return -Infinity;
    const l = p.nodeL[node]!;
    return bound < l ? bound : l;
  }
  for (let k = p.winOffset[node + 1]! - 1, begin = p.winOffset[node]!; k >= begin; k--) {
    if (p.winStart[k]! <= bound + EPS) return Math.min(bound, p.winEnd[k]!);
  }
  return -Infinity;
}
