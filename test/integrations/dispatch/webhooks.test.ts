import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createDispatchAdapter,
  type OnfleetDispatchAdapter,
} from '../../../src/integrations/dispatch/adapter.js';
import { jobToOnfleetTask, onfleetWebhookToCanonical } from '../../../src/integrations/dispatch/mappers.js';
import { verifyOnfleetWebhook } from '../../../src/integrations/dispatch/signature.js';
import {
  startDispatchSandbox,
  WEBHOOK_TRIGGERS,
  type DispatchSandbox,
} from '../../../sandbox/dispatch/index.js';
import { API_KEY, chicagoJob, rawClient, startReceiver, waitFor, type WebhookReceiver } from './support.js';

/** A secret as Onfleet's dashboard hands them out: hex. */
const HEX_SECRET = 'c0ffee00deadbeef8badf00d0123456789abcdef0123456789abcdef01234567';
const DAY = '2026-12-01';
const clock = { scale: 1, anchorRealMs: Date.now(), anchorSimMs: Date.parse('2026-12-01T12:00:00Z') };

/**
 * HMAC-SHA512 (RFC 2104) built from the bare hash, independent of node's createHmac and of the module
 * under test: H((K ^ opad) || H((K ^ ipad) || message)) with a 128-byte block.
 */
function referenceHmacSha512(key: Buffer, message: Buffer): string {
  const block = 128;
  let k = key.length > block ? createHash('sha512').update(key).digest() : key;
  k = Buffer.concat([k, Buffer.alloc(block - k.length)]);
  const inner = Buffer.alloc(block);
  const outer = Buffer.alloc(block);
  for (let i = 0; i < block; i++) {
    inner[i] = k[i]! ^ 0x36;
    outer[i] = k[i]! ^ 0x5c;
  }
  const innerHash = createHash('sha512')
    .update(Buffer.concat([inner, message]))
    .digest();
  return createHash('sha512')
    .update(Buffer.concat([outer, innerHash]))
    .digest('hex');
}

let sandbox: DispatchSandbox;
let adapter: OnfleetDispatchAdapter;
let receiver: WebhookReceiver;

function ids(prefix: string) {
  const deliveryId = `${prefix}${randomUUID().slice(0, 8).toUpperCase()}`;
  return { deliveryId, shipmentId: `shipment-${deliveryId}` };
}

async function subscribe(trigger: keyof typeof WEBHOOK_TRIGGERS, url = receiver.url) {
  return rawClient(sandbox.url).post('/webhooks', {
    url,
    trigger: WEBHOOK_TRIGGERS[trigger],
    name: `shipsync ${trigger}`,
  });
}

function deliveriesFor(taskId: string, trigger: string) {
  return receiver.received.filter((r) => r.json.taskId === taskId && r.json.triggerName === trigger);
}

beforeAll(async () => {
  receiver = await startReceiver();
  sandbox = await startDispatchSandbox({
    seed: 21,
    clock,
    webhookSecret: HEX_SECRET,
    rateLimitPerSecond: 10_000,
    planning: { timeLimitMs: 150, maxIterations: 200 },
  });
  adapter = createDispatchAdapter({ baseUrl: sandbox.url, apiKey: API_KEY });
  for (const trigger of ['taskCreated', 'taskAssigned', 'taskEta'] as const)
    expect((await subscribe(trigger)).status).toBe(200);
});

afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});

beforeEach(() => {
  receiver.handshake = 'echo';
});

describe('Onfleet webhook registration', () => {
  it('when the URL echoes the check value then the webhook is registered and listed', async () => {
    const res = await subscribe('taskCompleted');
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ url: receiver.url, trigger: 3, isEnabled: true, count: 0 });
    const list = (await rawClient(sandbox.url).get('/webhooks')).data as { id: string }[];
    expect(list.map((w) => w.id)).toContain(res.data.id);
  });

  it.each([
    ['answers something else', 'wrong' as const],
    ['answers 500', 'error' as const],
  ])('when the URL %s to the check then registration fails with 400 error 1008', async (_label, mode) => {
    receiver.handshake = mode;
    const before = (await rawClient(sandbox.url).get('/webhooks')).data.length;
    const res = await subscribe('taskFailed');
    expect(res.status).toBe(400);
    expect(res.data).toMatchObject({ code: 'InvalidArgument', message: { error: 1008 } });
    expect((await rawClient(sandbox.url).get('/webhooks')).data).toHaveLength(before);
  });

  it('when the URL cannot be reached or the trigger is unknown then registration fails with 400', async () => {
    const unreachable = await subscribe('taskFailed', 'http://127.0.0.1:1/nothing');
    expect(unreachable.status).toBe(400);
    expect(unreachable.data.message.error).toBe(1008);
    const unknown = await rawClient(sandbox.url).post('/webhooks', { url: receiver.url, trigger: 11 });
    expect(unknown.status).toBe(400);
    expect(unknown.data.code).toBe('InvalidArgument');
  });

  it('when a webhook is deleted then it is gone and a second delete is 404', async () => {
    const res = await subscribe('taskDelayed');
    const api = rawClient(sandbox.url);
    expect((await api.delete(`/webhooks/${res.data.id}`)).status).toBe(200);
    expect(((await api.get('/webhooks')).data as { id: string }[]).map((w) => w.id)).not.toContain(
      res.data.id,
    );
    const again = await api.delete(`/webhooks/${res.data.id}`);
    expect(again.status).toBe(404);
    expect(again.data.code).toBe('ResourceNotFound');
  });
});

describe('Onfleet webhook payloads and signatures', () => {
  it('when a task is created then taskCreated arrives signed: an independent HMAC-SHA512 matches and a tampered body fails', async () => {
    const id = ids('W');
    // A single POST /tasks: Onfleet sends no taskCreated for tasks created in a batch (the adapter's way).
    const created = await rawClient(sandbox.url).post(
      '/tasks',
      jobToOnfleetTask(chicagoJob(id), `${id.shipmentId}:task:1`),
    );
    const taskId = created.data.id as string;
    const [hook] = await waitFor(
      () => deliveriesFor(taskId, 'taskCreated'),
      (d) => d.length === 1,
    );
    const signature = hook!.headers['x-onfleet-signature'];
    expect(signature).toBe(
      referenceHmacSha512(Buffer.from(HEX_SECRET, 'hex'), Buffer.from(hook!.rawBody, 'utf8')),
    );
    expect(verifyOnfleetWebhook({ secret: HEX_SECRET, signature, rawBody: hook!.rawBody })).toBe(true);
    const tampered = hook!.rawBody.replace(id.shipmentId, `${id.shipmentId}X`);
    expect(verifyOnfleetWebhook({ secret: HEX_SECRET, signature, rawBody: tampered })).toBe(false);
    expect(
      verifyOnfleetWebhook({ secret: HEX_SECRET.replace('c0', 'c1'), signature, rawBody: hook!.rawBody }),
    ).toBe(false);
    expect(hook!.json).toMatchObject({
      triggerId: 6,
      triggerName: 'taskCreated',
      taskId,
      workerId: null,
      actionContext: { type: 'ADMIN' },
      data: { task: { id: taskId, state: 0 } },
    });
    expect(hook!.json.time).toEqual(expect.any(Number));
    expect(onfleetWebhookToCanonical(hook!.json, new Date().toISOString())).toMatchObject({
      kind: 'ignored',
    });
  });

  it('when the default (non-hex) secret signs then the signature is the HMAC of its UTF-8 bytes', async () => {
    const own = await startDispatchSandbox({ seed: 22, clock, rateLimitPerSecond: 10_000 });
    const ownReceiver = await startReceiver();
    try {
      const api = rawClient(own.url);
      expect((await api.post('/webhooks', { url: ownReceiver.url, trigger: 6 })).status).toBe(200);
      const created = await api.post('/tasks', {
        destination: {
          address: { number: '1', street: 'E Jackson Blvd', city: 'Chicago' },
          location: [-87.627, 41.878],
        },
        recipients: [{ name: 'Kim', phone: '+13125550199' }],
      });
      const [hook] = await waitFor(
        () => ownReceiver.received.filter((r) => r.json.taskId === created.data.id),
        (d) => d.length === 1,
      );
      const secret = 'sandbox-dispatch-webhook-secret';
      expect(hook!.headers['x-onfleet-signature']).toBe(
        referenceHmacSha512(Buffer.from(secret, 'utf8'), Buffer.from(hook!.rawBody)),
      );
      expect(
        verifyOnfleetWebhook({
          secret,
          signature: hook!.headers['x-onfleet-signature'],
          rawBody: hook!.rawBody,
        }),
      ).toBe(true);
    } finally {
      await own.close();
      await ownReceiver.close();
    }
  });

  it('when a region is planned and a late task joins then taskAssigned arrives for each, mapping to route.assigned.v1', async () => {
    const first = ids('A');
    const late = ids('A');
    const a = await adapter.createTask(chicagoJob(first), `${first.shipmentId}:task:1`);
    await adapter.planRegion('CHI', DAY);
    const b = await adapter.createTask(
      chicagoJob({ ...late, location: { lat: 41.92, lng: -87.64 } }),
      `${late.shipmentId}:task:1`,
    );
    for (const [taskId, shipmentId] of [
      [a.taskId, first.shipmentId],
      [b.taskId, late.shipmentId],
    ] as const) {
      const [hook] = await waitFor(
        () => deliveriesFor(taskId, 'taskAssigned'),
        (d) => d.length >= 1,
      );
      const result = onfleetWebhookToCanonical(hook!.json, new Date().toISOString());
      expect(result.kind).toBe('event');
      if (result.kind !== 'event') continue;
      expect(result.event).toMatchObject({
        type: 'route.assigned.v1',
        subject: shipmentId,
        correlationid: shipmentId,
        source: 'dispatch/onfleet',
      });
      const sent = (hook!.json.data as { task: { worker: string; estimatedArrivalTime: number } }).task;
      const task = (await rawClient(sandbox.url).get(`/tasks/${taskId}`)).data;
      expect(sent.worker).toBe(task.worker);
      expect(result.event.data).toMatchObject({
        taskId,
        attempt: 1,
        driverId: task.worker,
        eta: new Date(sent.estimatedArrivalTime).toISOString(),
      });
    }
  });

  it('when a planned task is rescheduled then taskEta carries the new ETA and maps to stop.eta.v1', async () => {
    const id = ids('E');
    const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
    await adapter.planRegion('CHI', DAY);
    const { eta } = await adapter.rescheduleTask(taskId, {
      start: '2026-12-01T21:00:00Z',
      end: '2026-12-01T22:30:00Z',
    });
    expect(eta).toBeDefined();
    const [hook] = await waitFor(
      () =>
        deliveriesFor(taskId, 'taskEta').filter(
          (d) =>
            (d.json.data as { task: { estimatedArrivalTime: number } }).task.estimatedArrivalTime ===
            Date.parse(eta!),
        ),
      (d) => d.length === 1,
    );
    expect(hook!.json.etaSeconds).toEqual(expect.any(Number));
    const result = onfleetWebhookToCanonical(hook!.json, new Date().toISOString());
    expect(result).toMatchObject({ kind: 'event', event: { type: 'stop.eta.v1', data: { taskId, eta } } });
  });

  it('when duplicate delivery is injected then the copies carry the same body and map to the same event id', async () => {
    sandbox.faults.update({ webhookDuplicateRate: 1, webhookDuplicateCopies: 3 });
    try {
      const id = ids('Q');
      const { taskId } = await adapter.createTask(chicagoJob(id), `${id.shipmentId}:task:1`);
      await adapter.planRegion('CHI', DAY);
      const copies = await waitFor(
        () => deliveriesFor(taskId, 'taskAssigned'),
        (d) => d.length === 3,
      );
      expect(new Set(copies.map((c) => c.rawBody)).size).toBe(1);
      const eventIds = copies.map((c) => {
        const r = onfleetWebhookToCanonical(c.json, new Date().toISOString());
        return r.kind === 'event' ? r.event.id : undefined;
      });
      expect(new Set(eventIds).size).toBe(1);
      expect(eventIds[0]).toMatch(/^onf-[0-9a-f]{64}$/);
    } finally {
      sandbox.faults.update({ webhookDuplicateRate: 0 });
    }
  });
});
