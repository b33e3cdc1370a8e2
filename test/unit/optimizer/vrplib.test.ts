import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  dimacsDistance,
  GEHRING_HOMBERGER_INSTANCES,
  loadVrplib,
  parseSol,
  parseVrp,
  solutionDistance,
  toOptimizeInput,
  VrplibParseError,
  vrptwDataDir,
} from '../../../sandbox/dispatch/optimizer/vrplib.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const dataDir = vrptwDataDir(repoRoot);

const TINY = `NAME : tiny
TYPE : VRPTW
DIMENSION : 4
VEHICLES : 2
CAPACITY : 10
SERVICE_TIME : 5
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 3 4
3 0 7
4 1 1
DEMAND_SECTION
1 0
2 4
3 6
4 3
TIME_WINDOW_SECTION
1 0 100
2 0 50
3 10 60
4 20 90
DEPOT_SECTION
 1
 -1
EOF
`;

describe('vrplib parser', () => {
  it('reads header fields and node sections', () => {
    const inst = parseVrp(TINY);
    expect(inst.name).toBe('tiny');
    expect(inst.dimension).toBe(4);
    expect(inst.vehicles).toBe(2);
    expect(inst.capacity).toBe(10);
    expect(inst.depot).toBe(0);
    expect(inst.coordinates).toEqual([
      [0, 0],
      [3, 4],
      [0, 7],
      [1, 1],
    ]);
    expect(inst.demands).toEqual([0, 4, 6, 3]);
    expect(inst.timeWindows[2]).toEqual([10, 60]);
    expect(inst.serviceTimes).toEqual([0, 5, 5, 5]);
  });

  it('rejects a file without a required section', () => {
    expect(() => parseVrp(TINY.replace(/TIME_WINDOW_SECTION[\s\S]*?DEPOT_SECTION/, 'DEPOT_SECTION'))).toThrow(
      VrplibParseError,
    );
    expect(() => parseVrp('NAME : x\n')).toThrow(VrplibParseError);
  });

  it('reads .sol routes and cost', () => {
    const sol = parseSol('Route #1: 1 3\nRoute #2: 2 \nCost 21.4\n');
    expect(sol.routes).toEqual([[1, 3], [2]]);
    expect(sol.cost).toBe(21.4);
    expect(() => parseSol('Route #1: 1\n')).toThrow(VrplibParseError);
  });

  it('truncates distances to one decimal (DIMACS)', () => {
    expect(dimacsDistance([0, 0], [3, 4])).toBe(5);
    expect(dimacsDistance([0, 0], [1, 1])).toBe(1.4);
    expect(dimacsDistance([0, 0], [0, 7])).toBe(7);
  });

  it('builds optimiser input with the depot at location 0 and .sol customer numbers as job ids', () => {
    const inst = parseVrp(TINY);
    const input = toOptimizeInput(inst, { customers: 2, timeLimitMs: 100, seed: 3 });
    expect(input.jobs.map((j) => j.id)).toEqual([1, 2]);
    expect(input.jobs[0]).toMatchObject({
      location_index: 1,
      service: 5,
      delivery: [4],
      time_windows: [[0, 50]],
    });
    expect(input.vehicles).toHaveLength(2);
    expect(input.vehicles[0]).toMatchObject({
      start_index: 0,
      end_index: 0,
      capacity: [10],
      time_window: [0, 100],
    });
    expect(input.matrix!.durations).toEqual([
      [0, 5, 7],
      [5, 0, 4.2],
      [7, 4.2, 0],
    ]);
    expect(input.options).toEqual({ timeLimitMs: 100, seed: 3 });
    const sol = parseSol('Route #1: 1 3\nRoute #2: 2\nCost 0\n');
    // 0-1: 5, 1-3: dist((3,4),(1,1)) = 3.6, 3-0: 1.4, then 0-2-0: 7 + 7.
    expect(solutionDistance(inst, sol)).toBeCloseTo(24, 9);
  });

  it('resolves the data folder next to the repository, overridable by SHIPSYNC_VRPTW_DIR', () => {
    expect(vrptwDataDir('/a/b/main')).toBe(path.resolve('/a/b/shared/data/vrptw'));
    process.env.SHIPSYNC_VRPTW_DIR = '/elsewhere';
    expect(vrptwDataDir('/a/b/main')).toBe('/elsewhere');
  });

  afterEach(() => {
    delete process.env.SHIPSYNC_VRPTW_DIR;
  });
});

describe.skipIf(!existsSync(dataDir))('Gehring & Homberger data', () => {
  it.each(GEHRING_HOMBERGER_INSTANCES)(
    '%s parses and its best-known solution costs what it states',
    (name) => {
      const { instance, bks } = loadVrplib(name, dataDir);
      expect(instance.dimension).toBe(1001);
      expect(instance.vehicles).toBe(250);
      expect(instance.depot).toBe(0);
      expect(instance.demands[0]).toBe(0);
      expect(bks).toBeDefined();
      const served = bks!.routes.flat().sort((a, b) => a - b);
      expect(served).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      expect(solutionDistance(instance, bks!)).toBeCloseTo(bks!.cost, 1);
    },
  );
});
