import { WorkflowUpdateFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ERROR_CODES } from '../../src/domain/errors.js';
import type { Address } from '../../src/domain/model.js';
import { correctAddressUpdate, rescheduleUpdate } from '../../src/workflows/shipment/contract.js';
import {
  businessFailure,
  startStubHarness,
  stubLocation,
  typedCause,
  workflowBundle,
  type StubHarness,
} from './support/stub-worker.js';

let h: StubHarness;
// Bundled once for the file, before the first test's clock starts.
beforeAll(() => workflowBundle());
beforeEach(async () => {
  h = await startStubHarness();
});
afterEach(async () => {
  await h.stop();
});

/** A window on the next service day, later than anything the compressed clock reaches in a test. */
const NEW_WINDOW = { start: '2026-12-02T14:00:00.000Z', end: '2026-12-02T16:00:00.000Z' };

/** Another street in Chicago, which the geocoder puts somewhere else than the order's address. */
function correctedAddress(original: Address): Address {
  return { ...original, street: '500 W Madison St', postalCode: '60661' };
}

/** The task dispatch will execute for the shipment: the one its status names, not cancelled. */
async function currentTask(sh: Awaited<ReturnType<StubHarness['start']>>) {
  const status = await sh.status();
  expect(status.phase).toBe('published');
  const task = h.systems.task(status.taskId ?? 'none');
  expect(task.cancelled).toBe(false);
  return { status, task };
}

describe('update handlers against the main loop and their own activities', () => {
  it('when a reschedule arrives while the task is being created then dispatch ends up with the new window', async () => {
    const creating = h.systems.hold('dispatchCreateTask');
    const sh = await h.start();
    await creating.reached;

    const update = await sh.handle.startUpdate(rescheduleUpdate, {
      args: [{ window: NEW_WINDOW, reason: 'customer asked', requestedBy: 'agent' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    creating.open();
    expect(await update.result()).toMatchObject({ window: NEW_WINDOW });

    // Either the task was created with the new window or it was moved there afterwards.
    await vi.waitFor(
      async () => {
        const { status, task } = await currentTask(sh);
        expect(status.window).toEqual(NEW_WINDOW);
        expect(task.window).toEqual(NEW_WINDOW);
      },
      { timeout: 5_000, interval: 100 },
    );
  });

  it('when an address correction arrives while the task is being created then dispatch ends up with the new address and its coordinates', async () => {
    const creating = h.systems.hold('dispatchCreateTask');
    const sh = await h.start();
    await creating.reached;
    const corrected = correctedAddress(sh.order.address);

    const update = await sh.handle.startUpdate(correctAddressUpdate, {
      args: [{ address: corrected, correctedBy: 'agent' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    creating.open();
    await update.result();

    await vi.waitFor(
      async () => {
        const { task } = await currentTask(sh);
        expect(task.address).toEqual(corrected);
        expect(task.location).toEqual(stubLocation(corrected));
      },
      { timeout: 5_000, interval: 100 },
    );
  });

  it('when an address correction arrives while the original address is being geocoded then dispatch gets the new address with its own coordinates', async () => {
    const geocoding = h.systems.hold('geocodeAddress');
    const sh = await h.start();
    await geocoding.reached;
    const corrected = correctedAddress(sh.order.address);

    const update = await sh.handle.startUpdate(correctAddressUpdate, {
      args: [{ address: corrected, correctedBy: 'agent' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    geocoding.open();
    await update.result();

    await vi.waitFor(
      async () => {
        const { task } = await currentTask(sh);
        expect(task.address).toEqual(corrected);
        expect(task.location).toEqual(stubLocation(corrected));
      },
      { timeout: 5_000, interval: 100 },
    );
  });

  it('when dispatch rejects a reschedule then the shipment keeps its window and the caller sees the business reason', async () => {
    h.systems.override('dispatchRescheduleTask', async () => {
      throw businessFailure('DISPATCH_REJECTED', 'the task is locked for route optimisation');
    });
    const sh = await h.start();
    const { taskId } = await sh.until((s) => s.phase === 'published' && !!s.taskId);

    const failure = await sh.handle
      .executeUpdate(rescheduleUpdate, {
        args: [{ window: NEW_WINDOW, reason: 'customer asked', requestedBy: 'agent' }],
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = typedCause(failure);
    expect(cause?.type).toBe('DISPATCH_REJECTED');
    expect(Object.keys(ERROR_CODES)).toContain(cause?.type);

    expect((await sh.status()).window).toEqual(sh.order.requestedWindow);
    expect(h.systems.task(taskId!).window).toEqual(sh.order.requestedWindow);
    // The customer's plan notice announces the window that still holds.
    await sh.send('route.assigned.v1');
    await vi.waitFor(() =>
      expect(h.systems.notices.filter((n) => n.plan).map((n) => n.plan?.window)).toEqual([
        sh.order.requestedWindow,
      ]),
    );
  });

  it('when a corrected address cannot be located then the correction is rejected with its reason and the next attempt still goes to the original address', async () => {
    const sh = await h.start();
    await sh.until((s) => s.phase === 'published' && !!s.taskId);
    const unknown: Address = { ...sh.order.address, street: '1 Nowhere Ln' };
    h.systems.override('geocodeAddress', async (address) => {
      if (address.street === unknown.street) throw businessFailure('ADDRESS_NOT_FOUND', 'no such street');
      return h.systems.defaults.geocodeAddress(address);
    });

    const failure = await sh.handle
      .executeUpdate(correctAddressUpdate, { args: [{ address: unknown, correctedBy: 'agent' }] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(typedCause(failure)?.type).toBe('ADDRESS_NOT_FOUND');

    // The driver misses the customer; the reattempt must go where the goods were always going.
    await sh.send('route.assigned.v1', 'stop.started.v1', 'delivery.failed.v1');
    const second = await sh.until((s) => s.attempts === 2 && s.phase === 'published' && !!s.taskId);
    expect(h.systems.task(second.taskId!).job).toMatchObject({
      address: sh.order.address,
      location: stubLocation(sh.order.address),
    });
  });

  it('when the driver delivers while dispatch is confirming a reschedule then the ERP never hears of a move after the delivery', async () => {
    const sh = await h.start();
    await sh.until((s) => s.phase === 'published' && !!s.taskId);
    await sh.send('route.assigned.v1');
    await sh.until((s) => s.phase === 'planned');
    const moving = h.systems.hold('dispatchRescheduleTask');
    // Billing waits too, so whatever the reschedule queues is flushed before the shipment closes.
    const billing = h.systems.hold('erpPostBilling');

    const update = await sh.handle.startUpdate(rescheduleUpdate, {
      args: [{ window: NEW_WINDOW, reason: 'customer asked', requestedBy: 'agent' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await moving.reached;
    await sh.send('stop.started.v1', 'delivery.completed.v1');
    await billing.reached;
    moving.open();
    // Whether the agent hears "moved" or "too late", what follows must not contradict the delivery.
    await update.result().catch(() => undefined);
    billing.open();

    expect((await sh.handle.result()).outcome).toBe('delivered');
    // The move runs inside the workflow task that took it (a local activity), so the shipment takes the
    // delivery after dispatch answered: either the move was refused as too late, or the ERP heard of it
    // before the delivery. Never after it.
    const codes = h.systems.milestoneCodes();
    expect(codes.slice(-2)).toEqual(['DELIVERED#1', 'BILLED#1']);
    expect(codes.slice(0, 2)).toEqual(['PLANNED#1', 'DISPATCHED#1']);
    expect(codes.slice(2, -2).every((c) => c === 'PLANNED#1')).toBe(true);
  });

  it('when the customer answers the reattempt notice with another day while the reattempt is being set up then the reattempt goes out for that day', async () => {
    const sh = await h.start();
    await sh.until((s) => s.phase === 'published' && !!s.taskId);
    const creating = h.systems.hold('dispatchCreateTask');
    await sh.send('route.assigned.v1', 'stop.started.v1', 'delivery.failed.v1');
    await creating.reached;
    await vi.waitFor(() =>
      expect(h.systems.notices.map((n) => n.message)).toContainEqual(
        expect.stringContaining('We will try again'),
      ),
    );
    const thursday = { start: '2026-12-03T10:00:00.000Z', end: '2026-12-03T12:00:00.000Z' };

    const update = await sh.handle.startUpdate(rescheduleUpdate, {
      args: [{ window: thursday, reason: 'not home on Wednesday', requestedBy: 'customer' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    creating.open();
    expect(await update.result()).toMatchObject({ window: thursday });
    await vi.waitFor(
      async () => {
        const { status, task } = await currentTask(sh);
        expect(status.attempts).toBe(2);
        expect(task.window).toEqual(thursday);
      },
      { timeout: 5_000, interval: 100 },
    );
  });
});

describe('the driver against the shipment giving up on an attempt', () => {
  it('when the driver delivers while the unassigned task is being cancelled at the window end then the delivery stands: one outcome in the ERP, no second attempt', async () => {
    // Escalation right after the cutoff, so the next wait is the window's end.
    const sh = await h.start({ scale: 3600, settings: { noAssignmentGraceMinutes: 1 } });
    await sh.until((s) => s.phase === 'published' && !!s.taskId);
    const cancelling = h.systems.hold('dispatchCancelTask');
    await cancelling.reached;
    // Dispatch assigned the task late and the driver finished it before the cancel took effect.
    await sh.send('route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1');
    await sh.until((s) => s.phase === 'billing' || s.phase === 'delivered');
    cancelling.open();

    expect((await sh.handle.result()).outcome).toBe('delivered');
    expect(h.systems.milestoneCodes()).toEqual(['PLANNED#1', 'DISPATCHED#1', 'DELIVERED#1', 'BILLED#1']);
    expect((await sh.status()).attempts).toBe(1);
  });

  it('when the proof of delivery arrives while the task is being cancelled past the missing-POD SLA then the delivery stands: no failed attempt, no second attempt', async () => {
    const sh = await h.start({
      scale: 3600,
      settings: { missingPodMinutes: 30, missingPodSlaMinutes: 60, missingPodDefaultMinutes: 120 },
    });
    await sh.until((s) => s.phase === 'published' && !!s.taskId);
    await sh.send('route.assigned.v1', 'stop.started.v1');
    const cancelling = h.systems.hold('dispatchCancelTask');
    await cancelling.reached;
    await sh.send('delivery.completed.v1');
    await sh.until((s) => s.phase === 'billing' || s.phase === 'delivered');
    cancelling.open();

    expect((await sh.handle.result()).outcome).toBe('delivered');
    const codes = h.systems.milestoneCodes();
    expect(codes).not.toContain('FAILED_ATTEMPT#1');
    expect(codes.filter((c) => /^(DELIVERED|RETURNED)#/.test(c))).toEqual(['DELIVERED#1']);
    expect(codes.at(-1)).toBe('BILLED#1');
    expect((await sh.status()).attempts).toBe(1);
  });

  it('when the driver delivers while a reschedule waits for its region planning then no revised plan reaches the ERP after the delivery', async () => {
    const sh = await h.start();
    await sh.until((s) => s.phase === 'published' && !!s.taskId);
    await sh.send('route.assigned.v1');
    await sh.until((s) => s.phase === 'planned');
    const planning = h.systems.hold('ensureRegionPlanning');
    const update = await sh.handle.startUpdate(rescheduleUpdate, {
      args: [{ window: NEW_WINDOW, reason: 'customer asked', requestedBy: 'agent' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    await planning.reached;
    await sh.send('stop.started.v1', 'delivery.completed.v1');
    await sh.until((s) => !!s.outcome);
    planning.open();
    await update.result();

    expect((await sh.handle.result()).outcome).toBe('delivered');
    const codes = h.systems.milestoneCodes();
    // Before the fix the moved plan went out after the delivery, under the key of the next revision.
    expect(codes.slice(codes.indexOf('DELIVERED#1'))).toEqual(['DELIVERED#1', 'BILLED#1']);
    const planned = h.systems.callsOf('erpPostMilestone').filter((c) => c.input.milestone === 'planned');
    const bodies = new Map<string, string>();
    for (const c of planned) {
      const body = `${c.input.occurredAt}|${c.input.eta ?? ''}`;
      expect(bodies.get(c.input.idempotencyKey) ?? body).toBe(body);
      bodies.set(c.input.idempotencyKey, body);
    }
  });
});

describe("a customer's reschedule", () => {
  it('when a published shipment is rescheduled then the move runs in the workflow task that took the request and that task answers it', async () => {
    const sh = await h.start();
    const { taskId } = await sh.until((s) => s.phase === 'published' && !!s.taskId);

    const answer = await sh.handle.executeUpdate(rescheduleUpdate, {
      args: [{ window: NEW_WINDOW, reason: 'customer asked', requestedBy: 'agent' }],
    });
    expect(answer.window).toEqual(NEW_WINDOW);
    expect(h.systems.task(taskId!).window).toEqual(NEW_WINDOW);

    const events = (await sh.handle.fetchHistory()).events ?? [];
    // No task on the dispatch queue: the move is a local activity, recorded as a marker.
    expect(
      events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'dispatchRescheduleTask',
      ),
    ).toEqual([]);
    const accepted = events.findIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    const answered = events.findIndex((e) => e.workflowExecutionUpdateCompletedEventAttributes);
    expect(accepted).toBeGreaterThan(0);
    const between = events.slice(accepted, answered);
    expect(between.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(
      true,
    );
    // Accepted and answered in one workflow task: no second task between them.
    expect(between.filter((e) => e.workflowTaskStartedEventAttributes)).toEqual([]);
  });
});
