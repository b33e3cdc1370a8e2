import { readFileSync } from 'node:fs';
import path from 'node:path';
import { configSchema } from '../../../src/platform/config.js';
import type { Job, OptimizeInput, Vehicle } from './types.js';

/** The six Gehring & Homberger 1,000-customer instances shipped in the shared data folder. */
export const GEHRING_HOMBERGER_INSTANCES = [
  'C1_10_1',
  'C2_10_1',
  'R1_10_1',
  'R2_10_1',
  'RC1_10_1',
  'RC2_10_1',
] as const;

/** A VRPTW instance as read from a VRPLIB .vrp file (node arrays are 0-based in file order). */
export interface VrplibInstance {
  /** NAME field. */
  name: string;
  /** Number of nodes, depot included. */
  dimension: number;
  /** VEHICLES field (fleet limit), if present. */
  vehicles: number | undefined;
  /** CAPACITY field. */
  capacity: number;
  /** EDGE_WEIGHT_TYPE field. */
  edgeWeightType: string;
  /** Coordinates of every node. */
  coordinates: [number, number][];
  /** Demand of every node. */
  demands: number[];
  /** Ready time and due date of every node. */
  timeWindows: [number, number][];
  /** Service time of every node. */
  serviceTimes: number[];
  /** 0-based index of the depot node. */
  depot: number;
}

/** A VRPLIB .sol file: routes of customer numbers (depot = 0, customer k = k-th non-depot node) and the cost. */
export interface VrplibSolution {
  /** Customer numbers of each route, in visiting order. */
  routes: number[][];
  /** Stated total cost. */
  cost: number;
}

/** Raised when a .vrp or .sol file cannot be read. */
export class VrplibParseError extends Error {
  /** Creates the error with a message naming the problem. */
  constructor(message: string) {
    super(message);
    this.name = 'VrplibParseError';
  }
}

/** Parses the text of a VRPLIB VRPTW instance (NODE_COORD, DEMAND, TIME_WINDOW, optional SERVICE_TIME sections). */
export function parseVrp(text: string): VrplibInstance {
  const header = new Map<string, string>();
  const sections = new Map<string, number[][]>();
  let current: number[][] | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line === 'EOF') continue;
    const field = /^([A-Z_]+)\s*:\s*(.*)$/.exec(line);
    if (field) {
      header.set(field[1]!, field[2]!.trim());
      current = undefined;
      continue;
    }
    if (/^[A-Z_]+_SECTION$/.test(line)) {
      current = [];
      sections.set(line, current);
      continue;
    }
    if (!current) throw new VrplibParseError(`unexpected line outside a section: ${line}`);
    const values = line.split(/\s+/).map(Number);
    if (values.some((v) => Number.isNaN(v))) throw new VrplibParseError(`non-numeric line: ${line}`);
    current.push(values);
  }
  const dimension = Number(header.get('DIMENSION'));
  if (!Number.isInteger(dimension) || dimension < 2)
    throw new VrplibParseError('missing or invalid DIMENSION');
  const byNode = (name: string, width: number, required: boolean): number[][] | undefined => {
    const rows = sections.get(name);
    if (!rows) {
      if (required) throw new VrplibParseError(`missing ${name}`);
      return undefined;
    }
    const out: number[][] = new Array<number[]>(dimension);
    for (const row of rows) {
      const node = row[0]!;
      if (!Number.isInteger(node) || node < 1 || node > dimension || row.length < width + 1) {
        throw new VrplibParseError(`bad ${name} row: ${row.join(' ')}`);
      }
      out[node - 1] = row.slice(1, width + 1);
    }
    for (let i = 0; i < dimension; i++)
      if (!out[i]) throw new VrplibParseError(`${name} lacks node ${i + 1}`);
    return out;
  };
  const coords = byNode('NODE_COORD_SECTION', 2, true)!;
  const demands = byNode('DEMAND_SECTION', 1, true)!;
  const windows = byNode('TIME_WINDOW_SECTION', 2, true)!;
  const services = byNode('SERVICE_TIME_SECTION', 1, false);
  const depotRows = sections.get('DEPOT_SECTION') ?? [[1]];
  const depot = (depotRows[0]?.[0] ?? 1) - 1;
  const globalService = Number(header.get('SERVICE_TIME') ?? 0);
  const capacity = Number(header.get('CAPACITY'));
  if (!Number.isFinite(capacity)) throw new VrplibParseError('missing or invalid CAPACITY');
  const vehicles = header.has('VEHICLES') ? Number(header.get('VEHICLES')) : undefined;
  return {
    name: header.get('NAME') ?? 'unnamed',
    dimension,
    vehicles,
    capacity,
    edgeWeightType: header.get('EDGE_WEIGHT_TYPE') ?? 'EUC_2D',
    coordinates: coords.map((c) => [c[0]!, c[1]!]),
    demands: demands.map((d) => d[0]!),
    timeWindows: windows.map((w) => [w[0]!, w[1]!]),
    serviceTimes: services
      ? services.map((s) => s[0]!)
      : coords.map((_, i) => (i === depot ? 0 : globalService)),
    depot,
  };
}

/** Parses a VRPLIB .sol file ("Route #k: c1 c2 ..." lines and "Cost X"). */
export function parseSol(text: string): VrplibSolution {
  const routes: number[][] = [];
  let cost: number | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const route = /^Route\s*#\d+\s*:(.*)$/i.exec(line);
    if (route) {
      routes.push(route[1]!.trim() === '' ? [] : route[1]!.trim().split(/\s+/).map(Number));
      continue;
    }
    const stated = /^Cost\s+([-+0-9.eE]+)$/i.exec(line);
    if (stated) cost = Number(stated[1]);
  }
  if (cost === undefined) throw new VrplibParseError('solution has no Cost line');
  if (routes.some((r) => r.some((c) => !Number.isInteger(c) || c < 1)))
    throw new VrplibParseError('bad customer number');
  return { routes, cost };
}

/** DIMACS VRPTW convention: Euclidean distance truncated to one decimal. */
export function dimacsDistance(a: readonly [number, number], b: readonly [number, number]): number {
  return Math.floor(10 * Math.hypot(a[0] - b[0], a[1] - b[1])) / 10;
}

/** Options for turning an instance into optimiser input. */
export interface ToInputOptions {
  /** Keep only the first N customers (with the depot), for quick sub-instances. */
  customers?: number;
  /** Solver time limit to put into the input's options. */
  timeLimitMs?: number;
  /** Solver seed to put into the input's options. */
  seed?: number;
  /** Solver iteration limit to put into the input's options. */
  maxIterations?: number;
}

/**
 * Builds an OptimizeInput with an explicit DIMACS matrix (duration = distance). Location 0 is the depot;
 * job ids are the customer numbers used by .sol files (k-th non-depot node in file order = job k).
 */
export function toOptimizeInput(instance: VrplibInstance, options: ToInputOptions = {}): OptimizeInput {
  const customers: number[] = [];
  for (let i = 0; i < instance.dimension; i++) if (i !== instance.depot) customers.push(i);
  const kept = customers.slice(0, options.customers ?? customers.length);
  const nodes = [instance.depot, ...kept];
  const coords = nodes.map((i) => instance.coordinates[i]!);
  const matrix = coords.map((a) => coords.map((b) => dimacsDistance(a, b)));
  const jobs: Job[] = kept.map((node, k) => ({
    id: customers.indexOf(node) + 1,
    location_index: k + 1,
    service: instance.serviceTimes[node]!,
    delivery: [instance.demands[node]!],
    time_windows: [instance.timeWindows[node]!],
  }));
  const depotWindow = instance.timeWindows[instance.depot]!;
  const fleet = instance.vehicles ?? kept.length;
  const vehicles: Vehicle[] = [];
  for (let v = 0; v < fleet; v++) {
    vehicles.push({
      id: v + 1,
      start_index: 0,
      end_index: 0,
      capacity: [instance.capacity],
      time_window: [depotWindow[0], depotWindow[1]],
    });
  }
  const input: OptimizeInput = { jobs, vehicles, matrix: { durations: matrix, distances: matrix } };
  const solver: NonNullable<OptimizeInput['options']> = {};
  if (options.timeLimitMs !== undefined) solver.timeLimitMs = options.timeLimitMs;
  if (options.seed !== undefined) solver.seed = options.seed;
  if (options.maxIterations !== undefined) solver.maxIterations = options.maxIterations;
  if (Object.keys(solver).length > 0) input.options = solver;
  return input;
}

/** Total DIMACS distance of a .sol solution on its instance (depot to depot for every route). */
export function solutionDistance(instance: VrplibInstance, solution: VrplibSolution): number {
  const customers: number[] = [];
  for (let i = 0; i < instance.dimension; i++) if (i !== instance.depot) customers.push(i);
  let total = 0;
  for (const route of solution.routes) {
    let prev = instance.depot;
    for (const c of route) {
      const node = customers[c - 1]!;
      total += dimacsDistance(instance.coordinates[prev]!, instance.coordinates[node]!);
      prev = node;
    }
    total += dimacsDistance(instance.coordinates[prev]!, instance.coordinates[instance.depot]!);
  }
  return total;
}

/** The benchmark data folder: SHIPSYNC_VRPTW_DIR, else ../shared/data/vrptw next to the repository root. */
export function vrptwDataDir(repoRoot: string = process.cwd()): string {
  // Read through the configuration schema's key, like every SHIPSYNC_* key (this needs no profile).
  const dir = configSchema.shape.SHIPSYNC_VRPTW_DIR.parse(process.env.SHIPSYNC_VRPTW_DIR || undefined);
  return dir ?? path.resolve(repoRoot, '../shared/data/vrptw');
}

/** Reads an instance and its best-known solution (if its .sol file exists) from the data folder. */
export function loadVrplib(
  name: string,
  dir: string = vrptwDataDir(),
): { instance: VrplibInstance; bks: VrplibSolution | undefined } {
  const instance = parseVrp(readFileSync(path.join(dir, `${name}.vrp`), 'utf8'));
  let bks: VrplibSolution | undefined;
  try {
    bks = parseSol(readFileSync(path.join(dir, `${name}.sol`), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { instance, bks };
}
