import { describe, expect, it } from 'vitest';
import { localDateOf, localMidnightMs, localTimeToUtcMs } from '../../../src/domain/local-time.js';
import {
  planRoutes,
  replanAfterChange,
  timeline,
  toOptimizeInput,
  type PlannerTask,
  type PlannerVehicle,
} from '../../../sandbox/dispatch/planner.js';

const HUB: [number, number] = [-87.6553, 41.8532];
const OPTIONS = { timeLimitMs: 100, seed: 3, maxIterations: 100 };

function vehicle(workerId: string, overrides: Partial<PlannerVehicle> = {}): PlannerVehicle {
  return {
    workerId,
    start: HUB,
    end: HUB,
    capacity: 12,
    maxTasks: 100,
    window: [8 * 3600, 18 * 3600],
    skills: [],
    ...overrides,
  };
}

function task(taskId: string, overrides: Partial<PlannerTask> = {}): PlannerTask {
  return {
    taskId,
    location: [-87.63, 41.88],
    serviceSeconds: 600,
    quantity: 2,
    window: [8 * 3600, 18 * 3600],
    skills: [],
    ...overrides,
  };
}

describe('planner mapping to the optimiser', () => {
  it('when tasks and vehicles are mapped then VROOM jobs carry pallets and a stop count, skills and pins become numbers', () => {
    const { input, infeasible } = toOptimizeInput(
      [
        task('a', { skills: ['liftgate'] }),
        task('b', { pinnedTo: 'w2' }),
        task('c', { window: [50_000, 40_000] }),
      ],
      [vehicle('w1', { skills: ['liftgate'] }), vehicle('w2', { capacity: 20, maxTasks: 5 })],
      OPTIONS,
    );
    expect(input.jobs).toHaveLength(2);
    expect(input.jobs[0]).toMatchObject({
      id: 1,
      location: [-87.63, 41.88],
      service: 600,
      delivery: [2, 1],
      time_windows: [[28_800, 64_800]],
      skills: [1],
    });
    expect(input.jobs[1]!.skills).toEqual([1002]);
    expect(input.vehicles[1]).toMatchObject({
      id: 2,
      capacity: [20, 5],
      time_window: [28_800, 64_800],
      skills: [1002],
    });
    expect(input.vehicles[0]!.skills).toEqual([1, 1001]);
    expect(infeasible).toEqual([{ taskId: 'c', reason: 'time_window' }]);
    expect(input.options).toEqual({ timeLimitMs: 100, seed: 3, maxIterations: 100 });
  });

  it('when a plan is made then every stop starts inside its window and no route carries more than its capacity', () => {
    const tasks = Array.from({ length: 12 }, (_, i) =>
      task(`t${i}`, {
        location: [-87.7 + i * 0.01, 41.8 + (i % 4) * 0.03],
        quantity: 3,
        window: i % 2 ? [9 * 3600, 12 * 3600] : [13 * 3600, 17 * 3600],
      }),
    );
    const out = planRoutes(tasks, [vehicle('w1'), vehicle('w2'), vehicle('w3')], OPTIONS);
    expect(out.unassigned).toEqual([]);
    const windows = new Map(tasks.map((t) => [t.taskId, t.window]));
    for (const route of out.routes) {
      expect(route.stops.length * 3).toBeLessThanOrEqual(12);
      for (const stop of route.stops) {
        const [start, end] = windows.get(stop.taskId)!;
        expect(stop.serviceStart).toBeGreaterThanOrEqual(start);
        expect(stop.serviceStart).toBeLessThanOrEqual(end);
        expect(stop.departure).toBe(stop.serviceStart + 600);
      }
    }
    expect(out.routes.flatMap((r) => r.stops.map((s) => s.taskId)).sort()).toEqual(
      tasks.map((t) => t.taskId).sort(),
    );
  });

  it('when a task needs a liftgate and only one truck has one then that truck serves it', () => {
    const out = planRoutes(
      [task('lift', { skills: ['liftgate'] })],
      [vehicle('plain'), vehicle('lifty', { skills: ['liftgate'] })],
      OPTIONS,
    );
    expect(out.routes).toEqual([expect.objectContaining({ workerId: 'lifty' })]);
  });

  it('when a task is pinned to a worker then re-dispatch keeps it there', () => {
    const out = planRoutes(
      [task('p', { pinnedTo: 'w2', location: [-87.655, 41.854] })],
      [vehicle('w1'), vehicle('w2', { start: [-87.9, 42.1] })],
      OPTIONS,
    );
    expect(out.routes.map((r) => r.workerId)).toEqual(['w2']);
  });

  it('when nothing fits a vehicle then the task is unassigned with the reason', () => {
    const out = planRoutes([task('big', { quantity: 40 })], [vehicle('w1')], OPTIONS);
    expect(out.routes).toEqual([]);
    expect(out.unassigned).toEqual([{ taskId: 'big', reason: 'capacity' }]);
  });

  it('when a window moves then the re-plan keeps the task in a route and starts it inside the new window', () => {
    const tasks = [task('a'), task('b', { location: [-87.62, 41.9] })];
    const first = planRoutes(tasks, [vehicle('w1')], OPTIONS);
    const moved = [tasks[0]!, { ...tasks[1]!, window: [15 * 3600, 16 * 3600] as [number, number] }];
    const out = replanAfterChange(
      moved,
      [vehicle('w1')],
      [{ workerId: 'w1', taskIds: first.routes[0]!.stops.map((s) => s.taskId) }],
      'b',
      OPTIONS,
    );
    const b = out.routes[0]!.stops.find((s) => s.taskId === 'b')!;
    expect(b.serviceStart).toBeGreaterThanOrEqual(15 * 3600);
    expect(b.serviceStart).toBeLessThanOrEqual(16 * 3600);
    expect(out.routes[0]!.stops.map((s) => s.taskId).sort()).toEqual(['a', 'b']);
  });

  it('when a fixed sequence is timed then each stop starts after the drive and not before its window', () => {
    const route = timeline(vehicle('w1'), [task('a'), task('b', { window: [12 * 3600, 13 * 3600] })]);
    expect(route.stops[0]!.serviceStart).toBeGreaterThan(8 * 3600);
    expect(route.stops[0]!.legDistance).toBeGreaterThan(0);
    expect(route.stops[1]!.serviceStart).toBe(12 * 3600);
  });
});

describe('local time of a region', () => {
  it.each([
    ['2026-12-01', 'America/Chicago', '2026-12-01T06:00:00.000Z'],
    ['2026-07-01', 'America/Chicago', '2026-07-01T05:00:00.000Z'],
    ['2026-07-01', 'America/Phoenix', '2026-07-01T07:00:00.000Z'],
    ['2026-03-08', 'America/New_York', '2026-03-08T05:00:00.000Z'],
  ])('when the date is %s in %s then local midnight is %s', (date, zone, iso) => {
    expect(new Date(localMidnightMs(date, zone)).toISOString()).toBe(iso);
  });

  it('when the clocks spring forward then 08:00 local is still 08:00 on the wall', () => {
    expect(new Date(localTimeToUtcMs('2026-03-08', 8 * 3600, 'America/New_York')).toISOString()).toBe(
      '2026-03-08T12:00:00.000Z',
    );
  });

  it('when an instant is late evening UTC then its local date may be the day before', () => {
    expect(localDateOf(Date.parse('2026-12-02T03:00:00Z'), 'America/Chicago')).toBe('2026-12-01');
    expect(localDateOf(Date.parse('2026-12-02T03:00:00Z'), 'UTC')).toBe('2026-12-02');
  });
});
