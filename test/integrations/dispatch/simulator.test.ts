import { describe, expect, it } from 'vitest';
import { createDispatchAdapter } from '../../../src/integrations/dispatch/adapter.js';
import { onfleetWebhookToCanonical } from '../../../src/integrations/dispatch/mappers.js';
import { verifyOnfleetWebhook } from '../../../src/integrations/dispatch/signature.js';
import { startDispatchSandbox, WEBHOOK_TRIGGERS } from '../../../sandbox/dispatch/index.js';
import { API_KEY, chicagoJob, rawClient, startReceiver, waitFor, type ReceivedWebhook } from './support.js';

const SECRET = 'sandbox-dispatch-webhook-secret';
const TRIGGERS = [
  'taskAssigned',
  'taskStarted',
  'taskEta',
  'taskArrival',
  'taskDelayed',
  'taskCompleted',
  'taskFailed',
] as const;
/** Stops around the Chicago hub, each owned by this test file. */
const STOPS = [
  { lat: 41.8789, lng: -87.6359 },
  { lat: 41.9484, lng: -87.6553 },
  { lat: 41.8916, lng: -87.6079 },
  { lat: 41.8317, lng: -87.6866 },
  { lat: 41.9097, lng: -87.7073 },
  { lat: 41.7943, lng: -87.5917 },
];

interface ScenarioResult {
  outcomes: Record<string, string>;
  byTask: Map<string, ReceivedWebhook[]>;
  received: ReceivedWebhook[];
  effects: { kind: string; count: number }[];
}

/**
 * Plays one Chicago day at 20000x: the simulated clock starts at 22:00 the evening before, six tasks are
 * published and planned, a seventh joins the planned routes, and the drivers play the 08:00-18:00 shift.
 */
async function playDay(seed: number): Promise<ScenarioResult> {
  const receiver = await startReceiver();
  const sandbox = await startDispatchSandbox({
    seed,
    clock: { scale: 20_000, anchorRealMs: Date.now(), anchorSimMs: Date.parse('2026-12-01T04:00:00Z') },
    rateLimitPerSecond: 10_000,
    planning: { timeLimitMs: 100, maxIterations: 100 },
    simulator: {
      enabled: true,
      failureRate: 0.3,
      damageRate: 0.1,
      delayRate: 0.3,
      pingIntervalSimSeconds: 120,
    },
    webhooks: TRIGGERS.map((t) => ({ url: receiver.url, trigger: WEBHOOK_TRIGGERS[t] })),
  });
  try {
    const adapter = createDispatchAdapter({ baseUrl: sandbox.url, apiKey: API_KEY });
    const window = { start: '2026-12-01T14:00:00Z', end: '2026-12-02T00:00:00Z' };
    const taskOf = new Map<string, string>();
    // Published at once, as a planning burst: one batch, before the 08:00 shift comes (1.8 real seconds).
    const published = await Promise.all(
      STOPS.map((location, i) =>
        adapter.createTask(
          chicagoJob({ deliveryId: `SIM-${i}`, shipmentId: `shipment-SIM-${i}`, location, window }),
          `shipment-SIM-${i}:task:1`,
          { firstTry: true },
        ),
      ),
    );
    for (const [i, { taskId }] of published.entries()) taskOf.set(taskId, `SIM-${i}`);
    const plan = await adapter.planRegion('CHI', '2026-12-01');
    expect(plan.assigned).toBe(STOPS.length);
    const late = await adapter.createTask(
      chicagoJob({
        deliveryId: 'SIM-LATE',
        shipmentId: 'shipment-SIM-LATE',
        location: { lat: 41.86, lng: -87.62 },
        window,
      }),
      'shipment-SIM-LATE:task:1',
    );
    taskOf.set(late.taskId, 'SIM-LATE');
    const finals = () =>
      receiver.received.filter(
        (r) => r.json.triggerName === 'taskCompleted' || r.json.triggerName === 'taskFailed',
      );
    await waitFor(finals, (f) => new Set(f.map((r) => r.json.taskId)).size === taskOf.size, 45_000);
    await sandbox.sender.drain();
    const byTask = new Map<string, ReceivedWebhook[]>();
    for (const r of receiver.received) {
      const id = r.json.taskId;
      if (id) byTask.set(id, [...(byTask.get(id) ?? []), r]);
    }
    const outcomes: Record<string, string> = {};
    for (const r of finals()) {
      const task = (r.json.data as { task: { completionDetails: { failureReason: string } } }).task;
      outcomes[taskOf.get(r.json.taskId!)!] =
        r.json.triggerName === 'taskCompleted'
          ? 'completed'
          : `failed:${task.completionDetails.failureReason}`;
    }
    const effects = (await rawClient(sandbox.url).get(`${sandbox.url}/__sandbox/effects`)).data.effects as {
      kind: string;
      count: number;
    }[];
    return { outcomes, byTask, received: [...receiver.received], effects };
  } finally {
    await sandbox.close();
    await receiver.close();
  }
}

describe('driver simulator', () => {
  it('when a planned day is played at 20000x then every task ends completed or failed, in order, through signed webhooks, and a seed replays the same outcomes', async () => {
    const first = await playDay(5);
    expect(Object.keys(first.outcomes).sort()).toEqual([
      'SIM-0',
      'SIM-1',
      'SIM-2',
      'SIM-3',
      'SIM-4',
      'SIM-5',
      'SIM-LATE',
    ]);

    for (const [taskId, hooks] of first.byTask) {
      const names = hooks.map((h) => h.json.triggerName);
      const at = (name: string) => hooks.find((h) => h.json.triggerName === name);
      const final = at('taskCompleted') ?? at('taskFailed');
      expect(
        names.filter((n) => n === 'taskStarted'),
        taskId,
      ).toHaveLength(1);
      expect(
        names.filter((n) => n === 'taskArrival'),
        taskId,
      ).toHaveLength(1);
      expect(
        names.filter((n) => n === 'taskCompleted' || n === 'taskFailed'),
        taskId,
      ).toHaveLength(1);
      const assigned = at('taskAssigned')!;
      const started = at('taskStarted')!;
      const arrival = at('taskArrival')!;
      expect(assigned.json.time).toBeLessThanOrEqual(started.json.time);
      expect(started.json.time).toBeLessThan(arrival.json.time);
      expect(arrival.json.time).toBeLessThan(final!.json.time);
      expect(names.indexOf('taskAssigned')).toBeLessThan(names.indexOf('taskStarted'));
      expect(names.indexOf('taskStarted')).toBeLessThan(names.indexOf('taskArrival'));
      expect(names.indexOf('taskArrival')).toBeLessThan(names.indexOf(final!.json.triggerName));
      for (const delayed of hooks.filter((h) => h.json.triggerName === 'taskDelayed')) {
        expect(delayed.json.time).toBeGreaterThanOrEqual(started.json.time);
        expect(delayed.json.time).toBeLessThanOrEqual(arrival.json.time);
      }
    }

    for (const hook of first.received) {
      expect(
        verifyOnfleetWebhook({
          secret: SECRET,
          signature: hook.headers['x-onfleet-signature'],
          rawBody: hook.rawBody,
        }),
      ).toBe(true);
      const mapped = onfleetWebhookToCanonical(hook.json, new Date(hook.receivedAt).toISOString());
      expect(mapped.kind).toBe('event');
      if (mapped.kind !== 'event') continue;
      if (mapped.event.type === 'delivery.completed.v1') {
        expect(
          mapped.event.data.pod.photoIds.length + (mapped.event.data.pod.signatureId ? 1 : 0),
        ).toBeGreaterThan(0);
        expect(mapped.event.data.mileageKm).toBeGreaterThan(0);
      }
      if (mapped.event.type === 'delivery.failed.v1') {
        expect(['recipient_absent', 'address_not_found', 'refused', 'damaged']).toContain(
          mapped.event.data.reason,
        );
      }
    }

    const outcomes = Object.values(first.outcomes);
    expect(outcomes.some((o) => o === 'completed')).toBe(true);
    expect(outcomes.some((o) => o.startsWith('failed:'))).toBe(true);
    const finished = first.effects.filter((e) => e.kind === 'task.completed' || e.kind === 'task.failed');
    expect(finished).toHaveLength(7);
    expect(finished.every((e) => e.count === 1)).toBe(true);

    const second = await playDay(5);
    expect(second.outcomes).toEqual(first.outcomes);
  });
});

describe('driver simulator and a dispatcher completing a task by hand', () => {
  it('when a planned task is force-completed before the shift then its driver never starts it and plays the rest of the route', async () => {
    const receiver = await startReceiver();
    const sandbox = await startDispatchSandbox({
      seed: 9,
      // 18:00 in Chicago the evening before: the 08:00 shift starts some 2.5 real seconds later.
      clock: { scale: 20_000, anchorRealMs: Date.now(), anchorSimMs: Date.parse('2026-12-01T00:00:00Z') },
      rateLimitPerSecond: 10_000,
      planning: { timeLimitMs: 100, maxIterations: 100 },
      simulator: { enabled: true, failureRate: 0, damageRate: 0, delayRate: 0 },
      webhooks: TRIGGERS.map((t) => ({ url: receiver.url, trigger: WEBHOOK_TRIGGERS[t] })),
    });
    try {
      const adapter = createDispatchAdapter({ baseUrl: sandbox.url, apiKey: API_KEY });
      const window = { start: '2026-12-01T14:00:00Z', end: '2026-12-02T00:00:00Z' };
      const refs = await Promise.all(
        STOPS.slice(0, 3).map((location, i) =>
          adapter.createTask(
            chicagoJob({ deliveryId: `FC-${i}`, shipmentId: `shipment-FC-${i}`, location, window }),
            `shipment-FC-${i}:task:1`,
            { firstTry: true },
          ),
        ),
      );
      expect((await adapter.planRegion('CHI', '2026-12-01')).assigned).toBe(3);
      const forced = refs[1]!.taskId;
      const { worker } = (await rawClient(sandbox.url).get(`/tasks/${forced}`)).data as { worker: string };
      await adapter.completeTask(forced, { success: false, notes: 'Order cancelled by phone.' });
      const workerTasks = (await rawClient(sandbox.url).get(`/workers/${worker}`)).data.tasks as string[];
      expect(workerTasks).not.toContain(forced);

      const finals = () =>
        receiver.received.filter((r) => ['taskCompleted', 'taskFailed'].includes(r.json.triggerName));
      await waitFor(finals, (f) => new Set(f.map((r) => r.json.taskId)).size === 3, 45_000);
      await sandbox.sender.drain();
      const hooksOf = (taskId: string) =>
        receiver.received.filter((r) => r.json.taskId === taskId).map((r) => r.json.triggerName);
      expect(hooksOf(forced).filter((n) => n !== 'taskEta')).toEqual(['taskAssigned', 'taskFailed']);
      for (const { taskId } of [refs[0]!, refs[2]!]) {
        expect(hooksOf(taskId)).toContain('taskStarted');
        expect(hooksOf(taskId)).toContain('taskArrival');
        expect(hooksOf(taskId).filter((n) => n === 'taskCompleted')).toHaveLength(1);
      }
      const task = (await rawClient(sandbox.url).get(`/tasks/${forced}`)).data;
      expect(task).toMatchObject({
        state: 3,
        completionDetails: { success: false, failureReason: 'MANAGER_OVERRIDE', events: [] },
      });
    } finally {
      await sandbox.close();
      await receiver.close();
    }
  });
});
