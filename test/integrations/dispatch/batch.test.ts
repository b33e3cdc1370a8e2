import { randomUUID } from 'node:crypto';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { BulkOptions } from '../../../src/integrations/bulk.js';
import { OnfleetDispatchAdapter } from '../../../src/integrations/dispatch/adapter.js';
import { jobToOnfleetTask, onfleetWebhookToCanonical } from '../../../src/integrations/dispatch/mappers.js';
import { startDispatchSandbox, type DispatchSandbox } from '../../../sandbox/dispatch/index.js';
import { API_KEY, chicagoJob, rawClient, startReceiver, waitFor, type WebhookReceiver } from './support.js';

/** Sim clock 06:00 Chicago on the planning day, running at real speed. */
const clock = { scale: 1, anchorRealMs: Date.now(), anchorSimMs: Date.parse('2026-12-01T12:00:00Z') };

let sandbox: DispatchSandbox;
let receiver: WebhookReceiver;
let chicagoTeam: string;

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

/** An adapter on the sandbox whose every request is recorded as `METHOD /path`. */
function countingAdapter(
  url: string,
  opts: { bulk?: BulkOptions; teamsTtlMs?: number; now?: () => number } = {},
): { adapter: OnfleetDispatchAdapter; requests: string[] } {
  const requests: string[] = [];
  const http = axios.create({
    baseURL: `${url}/api/v2`,
    auth: { username: API_KEY, password: '' },
    timeout: 10_000,
    headers: { accept: 'application/json' },
  });
  http.interceptors.request.use((config) => {
    requests.push(`${config.method?.toUpperCase()} ${config.url}`);
    return config;
  });
  return { adapter: new OnfleetDispatchAdapter(http, opts), requests };
}

/** The Onfleet body shipsync sends for a job, with its own ids. */
function taskBody(prefix: string) {
  const id = ids(prefix);
  const key = `${id.shipmentId}:task:1`;
  return { id, key, body: jobToOnfleetTask(chicagoJob(id), key, { teamId: chicagoTeam }) };
}

async function effectsOf(kind: string, key: string): Promise<{ count: number }[]> {
  const res = await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/effects`, { params: { kind } });
  return (res.data.effects as { key: string; count: number }[]).filter((e) => e.key === key);
}

async function tasksOfShipment(shipmentId: string): Promise<{ id: string }[]> {
  const res = await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/tasks`, { params: { shipmentId } });
  return res.data.tasks;
}

function metaOf(task: { metadata: { name: string; value: unknown }[] }): Record<string, unknown> {
  return Object.fromEntries(task.metadata.map((m) => [m.name, m.value]));
}

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startDispatchSandbox({
    seed: 21,
    clock,
    rateLimitPerSecond: 10_000,
    planning: { timeLimitMs: 150, maxIterations: 200 },
    webhooks: [
      { url: receiver.url, trigger: 'taskCompleted' },
      { url: receiver.url, trigger: 'taskFailed' },
      { url: receiver.url, trigger: 'taskCreated' },
    ],
    webhookDelivery: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const teams = (await rawClient(sandbox.url).get('/teams')).data as { id: string; name: string }[];
  chicagoTeam = teams.find((t) => t.name === 'CHI')!.id;
});

afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});

describe('dispatch sandbox: POST /tasks/batch', () => {
  it('when a batch holds an invalid task then the others are created and the invalid one comes back in errors with its body', async () => {
    const good = [taskBody('B'), taskBody('B'), taskBody('B')];
    const bad = taskBody('B');
    const badBody = { ...bad.body, completeAfter: bad.body.completeBefore + 1 };
    const res = await rawClient(sandbox.url).post('/tasks/batch', {
      tasks: [good[0]!.body, badBody, good[1]!.body, good[2]!.body],
    });
    expect(res.status).toBe(200);
    expect(res.data.tasks.map((t: { metadata: never }) => metaOf(t).shipsyncKey)).toEqual(
      good.map((g) => g.key),
    );
    expect(res.data.errors).toHaveLength(1);
    expect(res.data.errors[0]).toEqual({
      error: {
        statusCode: 400,
        error: 1009,
        message: 'Invalid time constraints specified.',
        cause: 'completeBefore: must be later than completeAfter',
      },
      task: badBody,
    });
    for (const g of good) {
      const [task] = await tasksOfShipment(g.id.shipmentId);
      expect((await rawClient(sandbox.url).get(`/tasks/${task!.id}`)).status).toBe(200);
    }
    expect(await tasksOfShipment(bad.id.shipmentId)).toEqual([]);
  });

  it('when a task of a batch does not validate then its error names the field, as POST /tasks would', async () => {
    const ok = taskBody('S');
    const noLocation = taskBody('S');
    const badPhone = taskBody('S');
    const res = await rawClient(sandbox.url).post('/tasks/batch', {
      tasks: [
        { ...noLocation.body, destination: { address: noLocation.body.destination.address } },
        { ...badPhone.body, recipients: [{ name: 'Dana', phone: 'call me' }] },
        ok.body,
      ],
    });
    expect(res.status).toBe(200);
    expect(res.data.tasks).toHaveLength(1);
    expect(res.data.errors.map((e: { error: unknown }) => e.error)).toEqual([
      expect.objectContaining({ statusCode: 400, error: 1011, cause: expect.stringMatching(/^destination/) }),
      expect.objectContaining({
        statusCode: 400,
        error: 1000,
        cause: expect.stringMatching(/^recipients\.0/),
      }),
    ]);
  });

  it('when a batch holds more than 500 tasks then Onfleet refuses it whole with InvalidArgument and creates nothing', async () => {
    const shipment = ids('L');
    const tasks = Array.from({ length: 501 }, (_, i) =>
      jobToOnfleetTask(chicagoJob(shipment), `${shipment.shipmentId}:task:${i}`, { teamId: chicagoTeam }),
    );
    const api = rawClient(sandbox.url);
    const res = await api.post('/tasks/batch', { tasks });
    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({
      code: 'InvalidArgument',
      message: { error: 1000, cause: 'tasks: at most 500 tasks per batch' },
    });
    expect(await tasksOfShipment(shipment.shipmentId)).toEqual([]);
    const empty = await api.post('/tasks/batch', { tasks: [] });
    expect(empty.status).toBe(400);
    expect(empty.data).toMatchObject({ code: 'InvalidArgument', message: { error: 1000 } });
    const full = await api.post('/tasks/batch', { tasks: tasks.slice(0, 500) });
    expect(full.status).toBe(200);
    expect(full.data.tasks).toHaveLength(500);
  });

  it('when a batch is sent then the rate limiter counts it as one request, and no taskCreated webhook goes out', async () => {
    const limited = await startDispatchSandbox({ seed: 22, clock, rateLimitPerSecond: 1 });
    try {
      const shipment = ids('T');
      const tasks = Array.from({ length: 20 }, (_, i) =>
        jobToOnfleetTask(chicagoJob(shipment), `${shipment.shipmentId}:task:${i}`),
      );
      const res = await rawClient(limited.url).post('/tasks/batch', { tasks });
      expect(res.status).toBe(200);
      expect(res.data.tasks).toHaveLength(20);
      expect(res.headers['x-ratelimit-limit']).toBe('1');
      expect(res.headers['x-ratelimit-remaining']).toBe('0');
    } finally {
      await limited.close();
    }
    const batched = taskBody('W');
    const single = taskBody('W');
    const api = rawClient(sandbox.url);
    const [viaBatch] = (await api.post('/tasks/batch', { tasks: [batched.body] })).data.tasks;
    const viaSingle = (await api.post('/tasks', single.body)).data;
    await waitFor(
      () => receiver.received.filter((r) => r.json.triggerName === 'taskCreated').map((r) => r.json.taskId),
      (created) => created.includes(viaSingle.id),
    );
    const created = receiver.received.filter((r) => r.json.triggerName === 'taskCreated');
    expect(created.map((r) => r.json.taskId)).not.toContain(viaBatch.id);
  });
});

describe('dispatch sandbox: POST /tasks/:id/complete', () => {
  it('when a dispatcher force-completes a task as delivered then taskCompleted goes out in the shape a driver completion has, and without a signature or photo shipsync does not take it as proof of delivery', async () => {
    const t = taskBody('F');
    const api = rawClient(sandbox.url);
    const task = (await api.post('/tasks', t.body)).data;
    const res = await api.post(`/tasks/${task.id}/complete`, {
      completionDetails: { success: true, notes: 'Left with the neighbour at 235.' },
    });
    expect(res.status).toBe(200);
    const after = (await api.get(`/tasks/${task.id}`)).data;
    expect(after.state).toBe(3);
    expect(after.completionDetails).toMatchObject({
      success: true,
      notes: 'Left with the neighbour at 235.',
      failureReason: 'NONE',
    });
    const [hook] = await waitFor(
      () =>
        receiver.received.filter((r) => r.json.taskId === task.id && r.json.triggerName === 'taskCompleted'),
      (hooks) => hooks.length === 1,
    );
    expect(Object.keys(hook!.json).sort()).toEqual(
      ['actionContext', 'adminId', 'data', 'taskId', 'time', 'triggerId', 'triggerName', 'workerId'].sort(),
    );
    expect(hook!.json).toMatchObject({
      triggerId: 3,
      triggerName: 'taskCompleted',
      actionContext: { type: 'ADMIN' },
      data: {
        task: {
          id: task.id,
          state: 3,
          completionDetails: { success: true, notes: 'Left with the neighbour at 235.' },
          metadata: expect.arrayContaining([
            expect.objectContaining({ name: 'shipmentId', value: t.id.shipmentId }),
          ]),
        },
      },
    });
    // An override is not evidence: shipsync's proof of delivery needs a signature or a photo (then `shipsync pod`).
    expect(() => onfleetWebhookToCanonical(hook!.json, new Date().toISOString())).toThrow(
      expect.objectContaining({
        code: 'EVENT_SCHEMA_INVALID',
        message: expect.stringMatching(/proof of delivery needs a signature or at least one photo/),
      }),
    );
    expect(await effectsOf('task.completed', task.id)).toEqual([expect.objectContaining({ count: 1 })]);
  });

  it('when a dispatcher force-completes a task as failed then taskFailed goes out and shipsync reads a failed attempt; completing it again is refused', async () => {
    const t = taskBody('G');
    const api = rawClient(sandbox.url);
    const task = (await api.post('/tasks', t.body)).data;
    expect(
      (await api.post(`/tasks/${task.id}/complete`, { completionDetails: { success: false } })).status,
    ).toBe(200);
    const again = await api.post(`/tasks/${task.id}/complete`, { completionDetails: { success: true } });
    expect(again.status).toBe(400);
    expect(again.data).toMatchObject({
      code: 'InvalidArgument',
      message: { error: 1000, cause: `state: task ${task.id} is already completed` },
    });
    expect((await api.get(`/tasks/${task.id}`)).data.completionDetails.success).toBe(false);
    const outcomes = () =>
      receiver.received.filter(
        (r) => r.json.taskId === task.id && ['taskCompleted', 'taskFailed'].includes(r.json.triggerName),
      );
    const [hook] = await waitFor(outcomes, (hooks) => hooks.length === 1);
    expect(hook!.json.triggerName).toBe('taskFailed');
    const mapped = onfleetWebhookToCanonical(hook!.json, new Date().toISOString());
    expect(mapped.kind === 'event' && mapped.event.type).toBe('delivery.failed.v1');
    expect(mapped.kind === 'event' && mapped.event).toMatchObject({
      subject: t.id.shipmentId,
      data: { taskId: task.id, attempt: 1, reason: 'recipient_absent' },
    });
    await sandbox.sender.drain();
    expect(outcomes()).toHaveLength(1);
  });

  it('when the task is unknown or the body is not a completion then Onfleet answers 404 or 400', async () => {
    const api = rawClient(sandbox.url);
    const missing = await api.post('/tasks/doesNotExist000000000000/complete', {
      completionDetails: { success: true },
    });
    expect(missing.status).toBe(404);
    expect(missing.data).toMatchObject({ code: 'ResourceNotFound', message: { error: 1402 } });
    const task = (await api.post('/tasks', taskBody('H').body)).data;
    const bad = await api.post(`/tasks/${task.id}/complete`, { success: true });
    expect(bad.status).toBe(400);
    expect(bad.data).toMatchObject({ code: 'InvalidArgument', message: { cause: /^completionDetails/ } });
    expect((await api.get(`/tasks/${task.id}`)).data.state).toBe(0);
  });
});

describe('dispatch adapter: createTask through POST /tasks/batch', () => {
  it('when 20 tasks are created at once then dispatch gets one team lookup and one batch, and each call gets its own task', async () => {
    const { adapter, requests } = countingAdapter(sandbox.url);
    const jobs = Array.from({ length: 20 }, () => ids('N'));
    const refs = await Promise.all(
      jobs.map((id) => adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`, { firstTry: true })),
    );
    expect(requests).toEqual(['GET /teams', 'POST /tasks/batch']);
    expect(adapter.createStats).toEqual({ requests: 1, items: 20 });
    expect(new Set(refs.map((r) => r.taskId)).size).toBe(20);
    for (const [i, id] of jobs.entries()) {
      const task = (await rawClient(sandbox.url).get(`/tasks/${refs[i]!.taskId}`)).data;
      expect(metaOf(task)).toMatchObject({
        shipmentId: id.shipmentId,
        shipsyncKey: `${id.shipmentId}:task:1`,
      });
    }
  });

  it('when 20 retries run at once then each looks its key up and the creates that follow go out together', async () => {
    // The lookups end at different times; a window longer than they take (a full batch goes at once).
    const { adapter, requests } = countingAdapter(sandbox.url, { bulk: { maxItems: 20, windowMs: 30_000 } });
    const jobs = Array.from({ length: 20 }, () => ids('Q'));
    const refs = await Promise.all(
      jobs.map((id) => adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`)),
    );
    expect(requests.filter((r) => r === 'POST /tasks/metadata')).toHaveLength(20);
    expect(requests.filter((r) => r === 'POST /tasks/batch')).toHaveLength(1);
    expect(requests.filter((r) => r === 'GET /teams')).toHaveLength(1);
    expect(requests).toHaveLength(22);
    expect(new Set(refs.map((r) => r.taskId)).size).toBe(20);
  });

  it('when one task of a batch is invalid then it alone fails with the error a single create gets, and its corrected retry creates it once', async () => {
    const { adapter } = countingAdapter(sandbox.url);
    const good = Array.from({ length: 4 }, () => ids('I'));
    const bad = ids('I');
    const badKey = `${bad.shipmentId}:task:1`;
    const badJob = chicagoJob({
      ...bad,
      window: { start: '2026-12-01T18:00:00Z', end: '2026-12-01T15:00:00Z' },
    });
    const settled = await Promise.allSettled([
      ...good.map((id) => adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`, { firstTry: true })),
      adapter.createTask(badJob, badKey, { firstTry: true }),
    ]);
    expect(adapter.createStats.requests).toBe(1);
    expect(settled.slice(0, 4).every((s) => s.status === 'fulfilled')).toBe(true);
    const failure = settled[4]!;
    expect(failure.status).toBe('rejected');
    const err = (failure as PromiseRejectedResult).reason as ShipsyncError;
    expect(err).toBeInstanceOf(ShipsyncError);
    expect(err.code).toBe('DISPATCH_REJECTED');
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ status: 400, field: 'completeBefore' });
    expect(err.message).toMatch(/^create task: Invalid time constraints specified\./);
    expect(await tasksOfShipment(bad.shipmentId)).toEqual([]);

    const retried = await adapter.createTask(chicagoJob(bad), badKey);
    expect((await tasksOfShipment(bad.shipmentId)).map((t) => t.id)).toEqual([retried.taskId]);
    expect(await effectsOf('task.created', badKey)).toEqual([expect.objectContaining({ count: 1 })]);
  });

  it('when a create is replayed with the same key then the same task comes back and dispatch holds one task', async () => {
    // A batch window (1 s) longer than a lookup takes, so the racing retry below finds the create on its way.
    const { adapter } = countingAdapter(sandbox.url, { bulk: { maxItems: 50, windowMs: 1000 } });
    const id = ids('R');
    const key = `${id.shipmentId}:task:1`;
    const first = await adapter.createTask(chicagoJob(id), key, { firstTry: true });
    const replay = await adapter.createTask(chicagoJob(id), key);
    expect(replay.taskId).toBe(first.taskId);
    // A retry that starts while the first try's create is still on its way waits for that task.
    const racing = ids('R');
    const racingKey = `${racing.shipmentId}:task:1`;
    const firstTry = adapter.createTask(chicagoJob(racing), racingKey, { firstTry: true });
    const [a, b] = await Promise.all([firstTry, adapter.createTask(chicagoJob(racing), racingKey)]);
    expect(b.taskId).toBe(a.taskId);
    for (const [shipmentId, k] of [
      [id.shipmentId, key],
      [racing.shipmentId, racingKey],
    ] as const) {
      expect(await tasksOfShipment(shipmentId)).toHaveLength(1);
      expect(await effectsOf('task.created', k)).toEqual([expect.objectContaining({ count: 1 })]);
    }
  });

  it('when dispatch answers the batch with 429 then every call of it fails retryably with the wait, and their retries create each task once', async () => {
    const { adapter, requests } = countingAdapter(sandbox.url);
    const warm = ids('Z');
    await adapter.createTask(chicagoJob(warm), `${warm.shipmentId}:task:1`, { firstTry: true });
    const jobs = Array.from({ length: 5 }, () => ids('Z'));
    sandbox.faults.update({ rateLimitStormUntilMs: Date.now() + 30_000 });
    let settled: PromiseSettledResult<unknown>[];
    try {
      requests.length = 0;
      settled = await Promise.allSettled(
        jobs.map((id) => adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`, { firstTry: true })),
      );
    } finally {
      sandbox.faults.update({ rateLimitStormUntilMs: 0 });
    }
    expect(requests).toEqual(['POST /tasks/batch']);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      const err = (s as PromiseRejectedResult).reason as ShipsyncError;
      expect(err.code).toBe('DISPATCH_RATE_LIMITED');
      expect(err.retryable).toBe(true);
      expect(err.details.retryAfterMs).toBeGreaterThanOrEqual(1000);
    }
    const refs = await Promise.all(
      jobs.map((id) => adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`)),
    );
    expect(new Set(refs.map((r) => r.taskId)).size).toBe(5);
    for (const id of jobs) expect(await tasksOfShipment(id.shipmentId)).toHaveLength(1);
  });

  it('when more creates than Onfleet takes in a batch are made at once then they go out in batches of at most 500', async () => {
    const own = await startDispatchSandbox({ seed: 23, clock, rateLimitPerSecond: 10_000 });
    try {
      const { adapter, requests } = countingAdapter(own.url, { bulk: { maxItems: 10_000, windowMs: 20 } });
      const shipment = ids('X');
      const refs = await Promise.all(
        Array.from({ length: 501 }, (_, i) =>
          adapter.createTask(chicagoJob(shipment), `${shipment.shipmentId}:task:${i}`, { firstTry: true }),
        ),
      );
      expect(new Set(refs.map((r) => r.taskId)).size).toBe(501);
      expect(requests.filter((r) => r === 'POST /tasks/batch')).toHaveLength(2);
      expect(adapter.createStats).toEqual({ requests: 2, items: 501 });
    } finally {
      await own.close();
    }
  });

  it('when the team lookup is older than its time to live then it is read again, and not before', async () => {
    let now = Date.parse('2026-12-01T12:00:00Z');
    const { adapter, requests } = countingAdapter(sandbox.url, { teamsTtlMs: 60_000, now: () => now });
    const create = (prefix: string) => {
      const id = ids(prefix);
      return adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`, { firstTry: true });
    };
    await create('E');
    now += 59_000;
    await create('E');
    expect(requests.filter((r) => r === 'GET /teams')).toHaveLength(1);
    now += 2_000;
    await create('E');
    expect(requests.filter((r) => r === 'GET /teams')).toHaveLength(2);
    await expectCode(
      adapter.createTask(chicagoJob({ ...ids('E'), region: 'SEA' }), 'sea:task:1'),
      'DISPATCH_REJECTED',
    );
  });
});

describe('dispatch adapter: completeTask', () => {
  it('when a dispatcher completes a task as failed then shipsync receives the failed attempt, and a second completion is DISPATCH_TASK_COMPLETED', async () => {
    const { adapter } = countingAdapter(sandbox.url);
    const id = ids('K');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`, {
      firstTry: true,
    });
    await adapter.completeTask(taskId, { success: false, notes: 'Customer closed for inventory.' });
    const [hook] = await waitFor(
      () => receiver.received.filter((r) => r.json.taskId === taskId),
      (hooks) => hooks.length === 1,
    );
    expect(hook!.json.triggerName).toBe('taskFailed');
    const mapped = onfleetWebhookToCanonical(hook!.json, new Date().toISOString());
    expect(mapped.kind === 'event' && mapped.event).toMatchObject({
      type: 'delivery.failed.v1',
      data: { taskId, reason: 'recipient_absent', notes: 'Customer closed for inventory.' },
    });
    const err = await expectCode(adapter.completeTask(taskId, { success: true }), 'DISPATCH_TASK_COMPLETED');
    expect(err.retryable).toBe(false);
    expect(err.details.status).toBe(400);
    const unknown = await expectCode(
      adapter.completeTask('doesNotExist000000000000', { success: true }),
      'DISPATCH_TASK_NOT_FOUND',
    );
    expect(unknown.retryable).toBe(false);
  });
});
