import { randomUUID } from 'node:crypto';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import {
  createDispatchAdapter,
  type OnfleetDispatchAdapter,
} from '../../../src/integrations/dispatch/adapter.js';
import { startDispatchSandbox, type DispatchSandbox } from '../../../sandbox/dispatch/index.js';
import { freePort } from '../../support/ports.js';
import { API_KEY, chicagoJob, rawClient } from './support.js';

/** Sim clock 06:00 Chicago on the planning day, running at real speed: plans start at the 08:00 shift. */
const DAY = '2026-12-01';
const clock = { scale: 1, anchorRealMs: Date.now(), anchorSimMs: Date.parse('2026-12-01T12:00:00Z') };

let sandbox: DispatchSandbox;
let adapter: OnfleetDispatchAdapter;

function ids(prefix: string) {
  const deliveryId = `${prefix}${randomUUID().slice(0, 8).toUpperCase()}`;
  return { deliveryId, shipmentId: `shipment-${deliveryId}` };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<ShipsyncError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ShipsyncError);
  expect((err as ShipsyncError).code).toBe(code);
  return err as ShipsyncError;
}

beforeAll(async () => {
  sandbox = await startDispatchSandbox({
    seed: 11,
    clock,
    rateLimitPerSecond: 10_000,
    planning: { timeLimitMs: 150, maxIterations: 200 },
  });
  adapter = createDispatchAdapter({ baseUrl: sandbox.url, apiKey: API_KEY });
});

afterAll(async () => {
  await sandbox.close();
});

describe('dispatch adapter against the Onfleet sandbox', () => {
  it('when a job is published then an Onfleet task exists with its window, location, load and shipment metadata', async () => {
    const id = ids('C');
    const job = chicagoJob({ ...id, quantity: 3, serviceTimeSeconds: 600, requirements: ['liftgate'] });
    const { taskId } = await adapter.createTask(job, `${id.shipmentId}:task:1`);
    const res = await rawClient(sandbox.url).get(`/tasks/${taskId}`);
    expect(res.status).toBe(200);
    const task = res.data;
    expect(task.destination.location).toEqual([-87.6359, 41.8789]);
    expect(task.destination.address).toMatchObject({ number: '233', street: 'S Wacker Dr', city: 'Chicago' });
    expect(task.completeAfter).toBe(Date.parse(job.window.start));
    expect(task.completeBefore).toBe(Date.parse(job.window.end));
    expect(task.quantity).toBe(3);
    expect(task.serviceTime).toBe(10);
    expect(task.state).toBe(0);
    expect(task.recipients[0]).toMatchObject({ name: 'Dana Whitfield', phone: '+13125550142' });
    const meta = Object.fromEntries(
      task.metadata.map((m: { name: string; value: unknown }) => [m.name, m.value]),
    );
    expect(meta).toMatchObject({
      shipmentId: id.shipmentId,
      deliveryId: id.deliveryId,
      attempt: 1,
      shipsyncKey: `${id.shipmentId}:task:1`,
      liftgate: true,
    });
    const teams = (await rawClient(sandbox.url).get('/teams')).data as { id: string; name: string }[];
    expect(task.container).toEqual({ type: 'TEAM', team: teams.find((t) => t.name === 'CHI')!.id });
  });

  it('when createTask is replayed with the same key then the same task comes back and dispatch holds one task', async () => {
    const id = ids('R');
    const key = `${id.shipmentId}:task:1`;
    const first = await adapter.createTask(chicagoJob(id), key);
    const second = await adapter.createTask(chicagoJob(id), key);
    expect(second.taskId).toBe(first.taskId);
    const effects = (
      await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/effects`, {
        params: { kind: 'task.created' },
      })
    ).data;
    const mine = effects.effects.filter((e: { key: string }) => e.key === key);
    expect(mine).toHaveLength(1);
    expect(mine[0].count).toBe(1);
    const byShipment = (
      await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/tasks`, {
        params: { shipmentId: id.shipmentId },
      })
    ).data;
    expect(byShipment.tasks).toHaveLength(1);
  });

  it('when metadata is queried then only tasks holding every entry are returned', async () => {
    const id = ids('M');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    const api = rawClient(sandbox.url);
    const hit = await api.post('/tasks/metadata', [
      { name: 'shipmentId', type: 'string', value: id.shipmentId },
      { name: 'attempt', type: 'number', value: 1 },
    ]);
    expect(hit.status).toBe(200);
    expect(hit.data.map((t: { id: string }) => t.id)).toEqual([taskId]);
    const miss = await api.post('/tasks/metadata', [
      { name: 'shipmentId', value: id.shipmentId },
      { name: 'attempt', value: 2 },
    ]);
    expect(miss.data).toEqual([]);
  });

  it('when a region is planned then its tasks get drivers and ETAs inside their windows, and the routes are inspectable', async () => {
    const a = ids('P');
    const b = ids('P');
    const ta = await adapter.createTask(
      chicagoJob({ ...a, location: { lat: 41.9, lng: -87.65 } }),
      `${a.shipmentId}:task:1`,
    );
    const tb = await adapter.createTask(
      chicagoJob({
        ...b,
        location: { lat: 41.85, lng: -87.7 },
        window: { start: '2026-12-01T16:00:00Z', end: '2026-12-01T19:00:00Z' },
      }),
      `${b.shipmentId}:task:1`,
    );
    const plan = await adapter.planRegion('CHI', DAY);
    expect(plan.assigned).toBeGreaterThanOrEqual(2);
    expect(plan.routes).toBeGreaterThanOrEqual(1);
    const api = rawClient(sandbox.url);
    for (const [taskId, job] of [
      [ta.taskId, chicagoJob(a)],
      [tb.taskId, { window: { start: '2026-12-01T16:00:00Z', end: '2026-12-01T19:00:00Z' } }],
    ] as const) {
      const t = (await api.get(`/tasks/${taskId}`)).data;
      expect(t.state).toBe(1);
      expect(typeof t.worker).toBe('string');
      expect(t.estimatedArrivalTime).toBeGreaterThanOrEqual(Date.parse(job.window.start));
      expect(t.estimatedArrivalTime).toBeLessThanOrEqual(Date.parse(job.window.end));
    }
    const routes = (await api.get(`${sandbox.url}/__sandbox/routes`, { params: { team: 'CHI', date: DAY } }))
      .data;
    const planned = routes.routes.flatMap((r: { stops: { taskId: string }[] }) =>
      r.stops.map((s) => s.taskId),
    );
    expect(planned).toEqual(expect.arrayContaining([ta.taskId, tb.taskId]));
  });

  it('when a task is created after its region was planned then it joins a route at once', async () => {
    await adapter.planRegion('CHI', DAY);
    const id = ids('L');
    const { taskId } = await adapter.createTask(
      chicagoJob({ ...id, location: { lat: 41.95, lng: -87.66 } }),
      `${id.shipmentId}:task:2`,
    );
    const t = (await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data;
    expect(t.state).toBe(1);
    expect(t.worker).toEqual(expect.any(String));
    expect(t.estimatedArrivalTime).toEqual(expect.any(Number));
  });

  it('when a planned task is rescheduled then dispatch re-plans and returns an ETA inside the new window', async () => {
    const id = ids('S');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    await adapter.planRegion('CHI', DAY);
    const window = { start: '2026-12-01T20:00:00Z', end: '2026-12-01T21:00:00Z' };
    const { eta } = await adapter.rescheduleTask(taskId, window);
    expect(eta).toBeDefined();
    expect(Date.parse(eta!)).toBeGreaterThanOrEqual(Date.parse(window.start));
    expect(Date.parse(eta!)).toBeLessThanOrEqual(Date.parse(window.end));
    const t = (await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data;
    expect(t.completeAfter).toBe(Date.parse(window.start));
    expect(t.estimatedArrivalTime).toBe(Date.parse(eta!));
  });

  it('when a planned task moves to a day that is not planned yet then it leaves its route and waits unassigned', async () => {
    const id = ids('N');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    await adapter.planRegion('CHI', DAY);
    const planned = (await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data;
    expect(planned.state).toBe(1);
    const result = await adapter.rescheduleTask(taskId, {
      start: '2026-12-03T15:00:00Z',
      end: '2026-12-03T17:00:00Z',
    });
    expect(result).toEqual({});
    const moved = (await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data;
    expect(moved).toMatchObject({
      state: 0,
      worker: null,
      estimatedArrivalTime: null,
      container: { type: 'TEAM' },
    });
    const routes = (
      await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/routes`, {
        params: { team: 'CHI', date: DAY },
      })
    ).data;
    const stops = routes.routes.flatMap((r: { stops: { taskId: string }[] }) => r.stops.map((s) => s.taskId));
    expect(stops).not.toContain(taskId);
    const plan = await adapter.planRegion('CHI', '2026-12-03');
    expect(plan.assigned).toBeGreaterThanOrEqual(1);
    expect((await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data.state).toBe(1);
  });

  it('when a planned task is cancelled then it leaves its route and the stops after it keep their drivers', async () => {
    const a = ids('G');
    const b = ids('G');
    const ta = await adapter.createTask(
      chicagoJob({ ...a, location: { lat: 41.89, lng: -87.62 } }),
      `${a.shipmentId}:task:1`,
    );
    const tb = await adapter.createTask(
      chicagoJob({ ...b, location: { lat: 41.9, lng: -87.63 } }),
      `${b.shipmentId}:task:1`,
    );
    await adapter.planRegion('CHI', DAY);
    const before = (await rawClient(sandbox.url).get(`/tasks/${tb.taskId}`)).data;
    await adapter.cancelTask(ta.taskId);
    const after = (await rawClient(sandbox.url).get(`/tasks/${tb.taskId}`)).data;
    expect(after.state).toBe(1);
    expect(after.worker).toBe(before.worker);
    const routes = (
      await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/routes`, {
        params: { team: 'CHI', date: DAY },
      })
    ).data;
    expect(
      routes.routes.flatMap((r: { stops: { taskId: string }[] }) => r.stops.map((s) => s.taskId)),
    ).not.toContain(ta.taskId);
    const effects = (
      await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/effects`, {
        params: { kind: 'task.deleted', entityId: ta.taskId },
      })
    ).data;
    expect(effects.effects).toHaveLength(1);
  });

  it('when an unplanned task is rescheduled then its window moves and no ETA is claimed', async () => {
    const id = ids('U');
    const { taskId } = await adapter.createTask(
      chicagoJob({ ...id, window: { start: '2026-12-09T14:00:00Z', end: '2026-12-09T18:00:00Z' } }),
      `${id.shipmentId}:task:1`,
    );
    const result = await adapter.rescheduleTask(taskId, {
      start: '2026-12-10T14:00:00Z',
      end: '2026-12-10T16:00:00Z',
    });
    expect(result).toEqual({});
  });

  it('when the destination is corrected then the task carries the new address and location', async () => {
    const id = ids('D');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    await adapter.updateTaskDestination(
      taskId,
      { street: '1060 W Addison St', city: 'Chicago', state: 'IL', postalCode: '60613', country: 'US' },
      { lat: 41.9484, lng: -87.6553 },
    );
    const t = (await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data;
    expect(t.destination.location).toEqual([-87.6553, 41.9484]);
    expect(t.destination.address).toMatchObject({
      number: '1060',
      street: 'W Addison St',
      postalCode: '60613',
    });
  });

  it('when a task is cancelled twice then it is gone and the second cancel still succeeds', async () => {
    const id = ids('X');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    await adapter.cancelTask(taskId);
    expect((await rawClient(sandbox.url).get(`/tasks/${taskId}`)).status).toBe(404);
    await expect(adapter.cancelTask(taskId)).resolves.toBeUndefined();
  });

  it('when a task is cloned then the copy has the source id and metadata, and a new key counts as its own effect', async () => {
    const id = ids('K');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    const res = await rawClient(sandbox.url).post(`/tasks/${taskId}/clone`, {
      overrides: {
        completeAfter: Date.parse('2026-12-02T14:00:00Z'),
        completeBefore: Date.parse('2026-12-02T18:00:00Z'),
        metadata: [
          { name: 'shipmentId', type: 'string', value: id.shipmentId },
          { name: 'attempt', type: 'number', value: 2 },
          { name: 'shipsyncKey', type: 'string', value: `${id.shipmentId}:task:2` },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.data.sourceTaskId).toBe(taskId);
    expect(res.data.id).not.toBe(taskId);
    expect(res.data.completeAfter).toBe(Date.parse('2026-12-02T14:00:00Z'));
    const effects = (
      await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/effects`, {
        params: { kind: 'task.created' },
      })
    ).data;
    const keys = effects.effects.filter((e: { key: string }) => e.key.startsWith(id.shipmentId));
    expect(keys.map((e: { key: string; count: number }) => [e.key, e.count]).sort()).toEqual([
      [`${id.shipmentId}:task:1`, 1],
      [`${id.shipmentId}:task:2`, 1],
    ]);
  });

  it('when tasks are listed then pages hold at most 64 tasks and lastId leads to the next page', async () => {
    const own = await startDispatchSandbox({ seed: 12, clock, rateLimitPerSecond: 10_000 });
    try {
      const api = rawClient(own.url);
      const created: string[] = [];
      for (let i = 0; i < 70; i++) {
        const res = await api.post('/tasks', {
          destination: {
            address: { number: String(100 + i), street: 'N State St', city: 'Chicago', country: 'US' },
            location: [-87.6278, 41.8837],
          },
          recipients: [{ name: `Recipient ${i}`, phone: '+13125550100' }],
          completeAfter: Date.parse('2026-12-01T14:00:00Z'),
          completeBefore: Date.parse('2026-12-01T18:00:00Z'),
        });
        expect(res.status).toBe(200);
        created.push(res.data.id);
      }
      const first = await api.get('/tasks/all', { params: { from: 0 } });
      expect(first.status).toBe(200);
      expect(first.data.tasks).toHaveLength(64);
      expect(first.data.lastId).toBe(created[63]);
      const second = await api.get('/tasks/all', { params: { from: 0, lastId: first.data.lastId } });
      expect(second.data.tasks.map((t: { id: string }) => t.id)).toEqual(created.slice(64));
      expect(second.data.lastId).toBeUndefined();
      const missingFrom = await api.get('/tasks/all');
      expect(missingFrom.status).toBe(400);
      expect(missingFrom.data).toMatchObject({ code: 'InvalidArgument', message: { error: 1000 } });
    } finally {
      await own.close();
    }
  });

  it('when teams, workers and hubs are read then each region has a team, a hub in its city and trucks with shifts', async () => {
    const api = rawClient(sandbox.url);
    const teams = (await api.get('/teams')).data as {
      id: string;
      name: string;
      hub: string;
      workers: string[];
    }[];
    expect(teams.map((t) => t.name).sort()).toEqual(['ATL', 'CHI', 'DAL', 'NYC', 'PHX']);
    const hubs = (await api.get('/hubs')).data as { id: string; location: [number, number] }[];
    const chicago = hubs.find((h) => h.id === teams.find((t) => t.name === 'CHI')!.hub)!;
    expect(chicago.location[0]).toBeCloseTo(-87.65, 1);
    expect(chicago.location[1]).toBeCloseTo(41.85, 1);
    const workers = (await api.get('/workers')).data as {
      teams: string[];
      vehicle: { type: string; capacity: number };
      metadata: { name: string; value: unknown }[];
    }[];
    for (const team of teams) {
      const mine = workers.filter((w) => w.teams.includes(team.id));
      expect(mine.length).toBeGreaterThanOrEqual(20);
      expect(mine.reduce((s, w) => s + w.vehicle.capacity, 0)).toBeGreaterThanOrEqual(400);
    }
    expect(workers[0]!.vehicle.type).toBe('TRUCK');
    expect(workers[0]!.metadata).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'shiftStart', value: '08:00' }),
        expect.objectContaining({ name: 'shiftEnd', value: '18:00' }),
      ]),
    );
  });

  it('when two sandboxes share a seed then they seed the same teams and drivers', async () => {
    const other = await startDispatchSandbox({ seed: 11, clock });
    try {
      const mine = (await rawClient(sandbox.url).get('/workers')).data as { id: string; name: string }[];
      const theirs = (await rawClient(other.url).get('/workers')).data as { id: string; name: string }[];
      expect(theirs.map((w) => [w.id, w.name])).toEqual(mine.map((w) => [w.id, w.name]));
    } finally {
      await other.close();
    }
  });
});

describe('dispatch adapter error classification', () => {
  it('when the API key is wrong then Onfleet answers 401 InvalidCredentials and the adapter rejects without retry', async () => {
    const res = await rawClient(sandbox.url, 'not-the-key').get('/teams');
    expect(res.status).toBe(401);
    expect(res.data).toMatchObject({ code: 'InvalidCredentials', message: { error: 1102 } });
    const noAuth = await axios.get(`${sandbox.url}/api/v2/teams`, { validateStatus: () => true });
    expect(noAuth.status).toBe(401);
    expect(noAuth.data).toMatchObject({ code: 'InvalidCredentials', message: { error: 1100 } });
    const wrong = createDispatchAdapter({ baseUrl: sandbox.url, apiKey: 'not-the-key' });
    const err = await expectCode(wrong.planRegion('CHI', DAY), 'DISPATCH_REJECTED');
    expect(err.retryable).toBe(false);
    expect(err.details.status).toBe(401);
  });

  it('when the task does not exist then the adapter reports DISPATCH_TASK_NOT_FOUND', async () => {
    const err = await expectCode(
      adapter.rescheduleTask('doesNotExist000000000000', {
        start: '2026-12-01T14:00:00Z',
        end: '2026-12-01T15:00:00Z',
      }),
      'DISPATCH_TASK_NOT_FOUND',
    );
    expect(err.retryable).toBe(false);
  });

  it('when dispatch rejects the request then the adapter reports DISPATCH_REJECTED with the offending field', async () => {
    const id = ids('V');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    const err = await expectCode(
      adapter.rescheduleTask(taskId, { start: '2026-12-01T15:00:00Z', end: '2026-12-01T15:00:00Z' }),
      'DISPATCH_REJECTED',
    );
    expect(err.details).toMatchObject({ status: 400, field: 'completeBefore' });
    expect(err.retryable).toBe(false);
    const raw = await rawClient(sandbox.url).put(`/tasks/${taskId}`, { completeAfter: 2, completeBefore: 1 });
    expect(raw.data).toMatchObject({ code: 'InvalidArgument', message: { error: 1009 } });
  });

  it('when a region has no team then planning is rejected naming the region', async () => {
    const err = await expectCode(adapter.planRegion('SEA', DAY), 'DISPATCH_REJECTED');
    expect(err.details.field).toBe('region');
  });

  it('when dispatch is down then the adapter reports DISPATCH_UNAVAILABLE, retryable', async () => {
    sandbox.faults.update({ outageUntilMs: Date.now() + 60_000 });
    try {
      const res = await rawClient(sandbox.url).get('/teams');
      expect(res.status).toBe(503);
      expect(res.data).toMatchObject({ code: 'ServiceUnavailable', message: { error: 2500 } });
      const id = ids('O');
      const err = await expectCode(
        adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`),
        'DISPATCH_UNAVAILABLE',
      );
      expect(err.retryable).toBe(true);
      expect(err.details.status).toBe(503);
    } finally {
      sandbox.faults.update({ outageUntilMs: 0 });
    }
  });

  it('when dispatch answers too slowly then the adapter times out as DISPATCH_UNAVAILABLE', async () => {
    sandbox.faults.update({ latencyMs: 400 });
    try {
      const slow = createDispatchAdapter({ baseUrl: sandbox.url, apiKey: API_KEY, timeoutMs: 100 });
      const err = await expectCode(slow.planRegion('CHI', DAY), 'DISPATCH_UNAVAILABLE');
      expect(err.retryable).toBe(true);
    } finally {
      sandbox.faults.update({ latencyMs: 0 });
    }
  });

  it('when nothing listens then the refused connection is DISPATCH_UNAVAILABLE', async () => {
    const closed = createDispatchAdapter({
      baseUrl: `http://127.0.0.1:${await freePort()}`,
      apiKey: API_KEY,
      timeoutMs: 2000,
    });
    const err = await expectCode(closed.cancelTask('anything'), 'DISPATCH_UNAVAILABLE');
    expect(err.retryable).toBe(true);
  });

  it('when a client sends more than 20 requests in a second then Onfleet answers 429 with rate-limit headers and the adapter reports the wait', async () => {
    const limited = await startDispatchSandbox({ seed: 13, clock });
    try {
      const api = rawClient(limited.url);
      const responses = await Promise.all(Array.from({ length: 60 }, () => api.get('/teams')));
      const refused = responses.filter((r) => r.status === 429);
      const served = responses.filter((r) => r.status === 200);
      expect(refused.length).toBeGreaterThan(0);
      expect(served.length).toBeGreaterThanOrEqual(20);
      for (const r of refused) {
        expect(r.data).toMatchObject({ code: 'TooManyRequests', message: { error: 2300 } });
        expect(r.headers['x-ratelimit-limit']).toBe('20');
        expect(r.headers['x-ratelimit-remaining']).toBe('0');
        expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
      expect(served.every((r) => Number(r.headers['x-ratelimit-remaining']) < 20)).toBe(true);
      await Promise.all(Array.from({ length: 25 }, () => api.get('/teams')));
      const limitedAdapter = createDispatchAdapter({ baseUrl: limited.url, apiKey: API_KEY });
      const err = await expectCode(limitedAdapter.planRegion('CHI', DAY), 'DISPATCH_RATE_LIMITED');
      expect(err.retryable).toBe(true);
      expect(err.details.retryAfterMs).toBeGreaterThanOrEqual(1000);
    } finally {
      await limited.close();
    }
  });

  it('when a rate-limit storm is injected then the fault answers Onfleet-style 429', async () => {
    sandbox.faults.update({ rateLimitStormUntilMs: Date.now() + 60_000 });
    try {
      const res = await rawClient(sandbox.url).get('/teams');
      expect(res.status).toBe(429);
      expect(res.data).toMatchObject({ code: 'TooManyRequests' });
      await expectCode(adapter.planRegion('CHI', DAY), 'DISPATCH_RATE_LIMITED');
    } finally {
      sandbox.faults.update({ rateLimitStormUntilMs: 0 });
    }
  });
});
