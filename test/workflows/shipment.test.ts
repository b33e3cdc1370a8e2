import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  approveChargesUpdate,
  cancelShipmentUpdate,
  correctAddressUpdate,
  forceReturnUpdate,
  recordPodUpdate,
  dispatchEventSignal,
  editAndRetryUpdate,
  rescheduleUpdate,
  retryParkedUpdate,
  skipParkedUpdate,
  type ShipmentResult,
} from '../../src/workflows/shipment/contract.js';
import {
  crmCases,
  crmNotices,
  duplicateEffects,
  erpBilling,
  erpMilestones,
  setErpRules,
  ticketComments,
} from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';
import axios from 'axios';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function drive(
  s: Stack,
  workflowId: string,
  types: Parameters<Stack['event']>[1][],
  data: Record<string, Record<string, unknown>> = {},
) {
  const handle = s.client.workflow.getHandle(workflowId);
  for (const type of types)
    await handle.signal(dispatchEventSignal, await s.event(workflowId, type, data[type]));
}

async function rejection(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
      return err.cause.type ?? 'untyped';
    throw err;
  }
}

const published = (st: { phase: string; taskId?: string }) => st.phase === 'published' && !!st.taskId;

describe('ShipmentWorkflow on the real dev server with the sandboxes', () => {
  it('when the driver delivers then ERP gets planned, dispatched, delivered and billed once each, and the cases stay at zero', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, [
      'route.assigned.v1',
      'stop.started.v1',
      'stop.arrived.v1',
      'delivery.completed.v1',
    ]);
    const result: ShipmentResult = await handle.result();
    expect(result.outcome).toBe('delivered');
    expect(result.casesOpened).toBe(0);
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'DELIVERED#1',
      'BILLED#1',
    ]);
    const billing = await erpBilling(stack.erp.url, order.deliveryId);
    expect(billing).toHaveLength(1);
    expect(Number(billing[0]?.total)).toBeCloseTo(result.total, 2);
    // The planned notice carries the plan machine-readable, so the customer can ask for another slot.
    const planned = (await crmNotices(stack.crm.url, workflowId)).filter((n) => n.plan !== undefined);
    expect(planned).toHaveLength(1);
    expect(planned[0]?.plan).toMatchObject({ window: order.requestedWindow });
    expect(await duplicateEffects(stack.erp.url)).toEqual([]);
  });

  it('when an agent reschedules before dispatch then the new window is accepted; once out for delivery it is rejected with its reason', async () => {
    stack = await startStack();
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    const start = new Date(Date.parse('2026-12-02T14:00:00Z')).toISOString();
    const window = { start, end: '2026-12-02T16:00:00.000Z' };
    const accepted = await handle.executeUpdate(rescheduleUpdate, {
      args: [{ window, reason: 'customer asked', requestedBy: 'agent' }],
    });
    expect(accepted.window).toEqual(window);
    expect(
      await rejection(
        handle.executeUpdate(rescheduleUpdate, {
          args: [
            {
              window: { start: '2026-11-30T10:00:00Z', end: '2026-11-30T12:00:00Z' },
              reason: '',
              requestedBy: 'agent',
            },
          ],
        }),
      ),
    ).toBe('RESCHEDULE_WINDOW_IN_PAST');
    expect(
      await rejection(
        handle.executeUpdate(rescheduleUpdate, {
          args: [
            {
              window: { start: '2026-12-05T10:00:00Z', end: '2026-12-05T12:00:00Z' },
              reason: '',
              requestedBy: 'agent',
            },
          ],
        }),
      ),
    ).toBe('RESCHEDULE_NOT_SERVICE_DAY');
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    await stack.waitFor(workflowId, (st) => st.phase === 'in_transit');
    expect(
      await rejection(
        handle.executeUpdate(rescheduleUpdate, {
          args: [
            {
              window: { start: '2026-12-03T14:00:00Z', end: '2026-12-03T16:00:00Z' },
              reason: '',
              requestedBy: 'agent',
            },
          ],
        }),
      ),
    ).toBe('RESCHEDULE_TOO_LATE');
    const status = await stack.waitFor(workflowId, () => true);
    expect(status.window).toEqual(window);
  });

  it('when the CRM answers only 429s then ERP milestones do not wait behind the customer notice, which follows once the CRM recovers', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    stack.crm.faults.update({ rateLimitStormUntilMs: Date.now() + 15_000 });
    // The plan notice is queued before the driver sets out; DISPATCHED must not wait behind it.
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    await stack.waitFor(workflowId, (st) => st.milestones.some((m) => m.milestone === 'dispatched'));
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual(['PLANNED#1', 'DISPATCHED#1']);
    expect(await crmNotices(stack.crm.url, workflowId)).toEqual([]);
    // Visibility already shows the shipment out for delivery, not the phase its stuck notice belongs to.
    await expect
      .poll(async () => (await handle.describe()).searchAttributes.ShipmentStatus, { timeout: 10_000 })
      .toEqual(['in_transit']);
    expect(await crmNotices(stack.crm.url, workflowId)).toEqual([]);
    await drive(stack, workflowId, ['stop.arrived.v1', 'delivery.completed.v1']);
    expect((await handle.result()).outcome).toBe('delivered');
    expect((await crmNotices(stack.crm.url, workflowId)).filter((n) => n.plan !== undefined)).toHaveLength(1);
  }, 60_000);

  it('when the first attempt fails then a case, a notice and a second attempt follow, and the redelivery is billed', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.failed.v1']);
    await stack.waitFor(workflowId, (st) => st.attempts === 2 && published(st));
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1']);
    const result = await handle.result();
    expect(result.outcome).toBe('delivered');
    expect(result.attempts).toBe(2);
    expect(result.charges.map((c) => c.code)).toContain('REDELIVERY');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'FAILED_ATTEMPT#1',
      'PLANNED#2',
      'DISPATCHED#2',
      'DELIVERED#2',
      'BILLED#2',
    ]);
    const cases = await crmCases(stack.crm.url, workflowId);
    expect(cases.map((c) => c.kind)).toEqual(['failed_attempt']);
    expect(cases.every((c) => c.status === 'solved')).toBe(true);
  });

  it('when the last allowed attempt fails then the goods return to the depot and the return is billed', async () => {
    stack = await startStack({ settings: { maxAttempts: 1 } });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.failed.v1'], {
      'delivery.failed.v1': { reason: 'refused' },
    });
    const result = await handle.result();
    expect(result.outcome).toBe('returned');
    expect(result.charges.map((c) => c.code)).toContain('RETURN');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'FAILED_ATTEMPT#1',
      'RETURNED#1',
      'BILLED#1',
    ]);
  });

  it('when the driver runs late past the thresholds then the customer is told, ERP gets one delayed milestone and a case opens', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    await drive(stack, workflowId, ['delivery.delayed.v1', 'delivery.delayed.v1'], {
      'delivery.delayed.v1': { delaySeconds: 3 * 3600 },
    });
    // ERP and CRM effects run in separate lanes: wait for both the case and the milestone.
    const st = await stack.waitFor(
      workflowId,
      (x) =>
        x.openCases.some((c) => c.kind === 'delay') && x.milestones.some((m) => m.milestone === 'delayed'),
    );
    expect(st.milestones.filter((m) => m.milestone === 'delayed')).toHaveLength(1);
    expect((await crmNotices(stack.crm.url, workflowId)).some((n) => /late/.test(n.body))).toBe(true);
    await drive(stack, workflowId, ['delivery.completed.v1']);
    await handle.result();
    expect(
      (await erpMilestones(stack.erp.url, order.deliveryId)).filter((m) => m.startsWith('DELAYED')),
    ).toEqual(['DELAYED#1']);
  });

  it('when the goods are damaged then a damage case opens and the shipment returns without a reattempt', async () => {
    stack = await startStack();
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.failed.v1'], {
      'delivery.failed.v1': { reason: 'damaged' },
    });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'returned', attempts: 1 });
    expect((await crmCases(stack.crm.url, workflowId)).map((c) => c.kind)).toEqual(['damage']);
  });

  it('when the ZIP does not match the city then the shipment holds, and a corrected address releases it', async () => {
    stack = await startStack();
    const bad = {
      street: '233 S Wacker Dr',
      city: 'Chicago',
      state: 'IL' as const,
      postalCode: '30301',
      country: 'US' as const,
    };
    const { workflowId, handle } = await stack.start({ address: bad });
    await stack.waitFor(
      workflowId,
      (st) => st.phase === 'on_hold' && st.openCases.some((c) => c.kind === 'address_mismatch'),
    );
    await handle.executeUpdate(correctAddressUpdate, {
      args: [{ address: { ...bad, postalCode: '60606' }, correctedBy: 'agent' }],
    });
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1']);
    expect((await handle.result()).outcome).toBe('delivered');
    expect((await crmCases(stack.crm.url, workflowId)).every((c) => c.status === 'solved')).toBe(true);
  });

  it('when nobody corrects a mismatched address in time then the shipment returns', async () => {
    stack = await startStack({ scale: 3600, settings: { addressHoldMinutes: 60 } });
    const bad = {
      street: '1 Main St',
      city: 'Dallas',
      state: 'TX' as const,
      postalCode: '60606',
      country: 'US' as const,
    };
    const { workflowId, handle } = await stack.start({ address: bad, region: 'DAL' });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'returned', attempts: 0 });
    expect(await stack.waitFor(workflowId, () => true)).toMatchObject({ phase: 'closed' });
  });

  it('when no proof of delivery arrives after the window then a missing-POD case opens', async () => {
    stack = await startStack({ scale: 3600, settings: { missingPodMinutes: 30 } });
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    await stack.waitFor(workflowId, (st) => st.openCases.some((c) => c.kind === 'missing_pod'), 20_000);
    await drive(stack, workflowId, ['delivery.completed.v1']);
    expect((await handle.result()).outcome).toBe('delivered');
  });

  it('when accessorials pass the threshold then billing waits for finance, and the approval posts it', async () => {
    stack = await startStack({ settings: { approvalThreshold: 50 } });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'], {
      'delivery.completed.v1': { accessorials: { liftgate: true, waitingMinutes: 45 } },
    });
    await stack.waitFor(workflowId, (st) => st.awaitingApproval);
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);
    await handle.executeUpdate(approveChargesUpdate, { args: [{ approvedBy: 'fin-ops', approve: true }] });
    const result = await handle.result();
    expect(result.charges.map((c) => c.code)).toEqual(expect.arrayContaining(['LIFTGATE', 'WAITING']));
    expect((await erpBilling(stack.erp.url, order.deliveryId))[0]?.approvedBy).toBe('fin-ops');
  });

  it('when accessorials pass the four-eyes threshold then two different finance principals must approve, and billing names both', async () => {
    stack = await startStack({ settings: { approvalThreshold: 50, fourEyesThreshold: 100 } });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'], {
      'delivery.completed.v1': { accessorials: { liftgate: true, waitingMinutes: 45 } },
    });
    expect(await stack.waitFor(workflowId, (st) => st.awaitingApproval)).toMatchObject({
      approvalsRequired: 2,
    });
    const first = await handle.executeUpdate(approveChargesUpdate, {
      args: [{ approvedBy: 'fin-ana', approve: true }],
    });
    expect(first).toMatchObject({ status: 'pending', approvalsRequired: 2 });
    expect(
      await rejection(
        handle.executeUpdate(approveChargesUpdate, { args: [{ approvedBy: 'fin-ana', approve: true }] }),
      ),
    ).toBe('APPROVAL_SAME_PRINCIPAL');
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);
    const second = await handle.executeUpdate(approveChargesUpdate, {
      args: [{ approvedBy: 'fin-bo', approve: true }],
    });
    expect(second).toMatchObject({ status: 'approved' });
    await handle.result();
    expect((await erpBilling(stack.erp.url, order.deliveryId))[0]).toMatchObject({
      approvedBy: 'fin-ana',
      secondApprovedBy: 'fin-bo',
    });
  });

  it('when the ERP refuses the dispatched milestone for good then it is parked, and a retry once the rule is lifted posts it once before the shipment closes', async () => {
    stack = await startStack();
    await setErpRules(stack.erp.url, { rejectMilestoneCodes: ['DISPATCHED'] });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1']);
    // Delivered and billed, but it does not close over the parked milestone.
    const parked = await stack.waitFor(workflowId, (st) => !!st.billingDocumentId && !!st.parked?.length);
    expect(parked.phase).toBe('billing');
    expect(parked.parked).toEqual([
      expect.objectContaining({
        id: 'p1',
        action: expect.objectContaining({ kind: 'milestone', milestone: 'dispatched', attempt: 1 }),
        code: 'ERP_BUSINESS_REJECTED',
        message: expect.stringContaining('DISPATCHED is not permitted'),
        rejections: 1,
      }),
    ]);
    await expect
      .poll(async () => (await handle.describe()).searchAttributes.OpenException)
      .toEqual(['outbound_rejected']);
    // Retried while the rule still stands: refused with the vendor's reason, still parked, counted.
    expect(
      await rejection(handle.executeUpdate(retryParkedUpdate, { args: [{ parkedId: 'p1', by: 'disp-1' }] })),
    ).toBe('ERP_BUSINESS_REJECTED');
    expect((await stack.waitFor(workflowId, () => true)).parked?.[0]?.rejections).toBe(2);
    expect(
      await rejection(handle.executeUpdate(retryParkedUpdate, { args: [{ parkedId: 'p9', by: 'disp-1' }] })),
    ).toBe('PARKED_NOT_FOUND');

    await setErpRules(stack.erp.url, { rejectMilestoneCodes: [] });
    const retried = await handle.executeUpdate(retryParkedUpdate, {
      args: [{ parkedId: 'p1', by: 'disp-1' }],
    });
    expect(retried).toMatchObject({ parkedId: 'p1', outcome: 'posted', stillParked: 0 });
    const result = await handle.result();
    expect(result.outcome).toBe('delivered');
    expect((await erpMilestones(stack.erp.url, order.deliveryId)).sort()).toEqual(
      ['BILLED#1', 'DELIVERED#1', 'DISPATCHED#1', 'PLANNED#1'].sort(),
    );
    const closed = await stack.waitFor(workflowId, () => true);
    expect(closed.parkedResolved).toEqual([
      expect.objectContaining({ id: 'p1', kind: 'milestone', outcome: 'posted', by: 'disp-1' }),
    ]);
    expect(await duplicateEffects(stack.erp.url)).toEqual([]);
  });

  it('when the ERP blocks the delivery for billing then the billing post is parked, an edit is refused, and a skip with a reason closes the shipment unbilled', async () => {
    stack = await startStack();
    await setErpRules(stack.erp.url, { billingBlockReason: 'credit check pending' });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1']);
    const parked = await stack.waitFor(workflowId, (st) => !!st.parked?.length);
    expect(parked).toMatchObject({ phase: 'billing', outcome: 'delivered' });
    expect(parked.parked?.[0]).toMatchObject({
      id: 'p1',
      action: { kind: 'billing' },
      code: 'ERP_BUSINESS_REJECTED',
      message: expect.stringContaining('blocked for billing: credit check pending'),
    });
    expect(
      await rejection(
        handle.executeUpdate(editAndRetryUpdate, {
          args: [{ parkedId: 'p1', by: 'fin-ana', edits: { message: 'bill it anyway' } }],
        }),
      ),
    ).toBe('PARKED_EDIT_INVALID');
    const skipped = await handle.executeUpdate(skipParkedUpdate, {
      args: [{ parkedId: 'p1', by: 'fin-ana', reason: 'billed by hand in the ERP' }],
    });
    expect(skipped).toMatchObject({ outcome: 'skipped', stillParked: 0 });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'delivered', billingDocumentId: '' });
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).not.toContain('BILLED#1');
    const closed = await stack.waitFor(workflowId, () => true);
    expect(closed).toMatchObject({ phase: 'closed', billingSkipped: 'billed by hand in the ERP' });
  });

  it('when every event arrives three times and shuffled then each milestone still reaches ERP once', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    const events = [];
    for (const type of [
      'route.assigned.v1',
      'stop.started.v1',
      'stop.arrived.v1',
      'delivery.completed.v1',
    ] as const)
      events.push(await stack.event(workflowId, type));
    // A failure report that happened before the completion but arrives after it.
    const stale = {
      ...(await stack.event(workflowId, 'delivery.failed.v1', {}, stack.simNow() - 3600_000)),
      sequence: 0,
    };
    const order3 = [9, 2, 6, 0, 11, 4, 7, 1, 10, 3, 8, 5];
    const copies = [...events, ...events, ...events];
    for (const i of order3) await handle.signal(dispatchEventSignal, copies[i]!);
    await handle.signal(dispatchEventSignal, stale);
    const result = await handle.result();
    expect(result.outcome).toBe('delivered');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'DELIVERED#1',
      'BILLED#1',
    ]);
    expect(await duplicateEffects(stack.erp.url)).toEqual([]);
    expect(await duplicateEffects(stack.crm.url)).toEqual([]);
  });
});

/** The dispatch sandbox's tasks of a shipment (a cancelled task is deleted there). */
async function dispatchTasks(s: Stack, shipmentId: string): Promise<unknown[]> {
  const res = await axios.get<{ tasks: unknown[] }>(`${s.dispatch.url}/__sandbox/tasks`, {
    params: { shipmentId },
  });
  return res.data.tasks;
}

const openException = async (s: Stack, workflowId: string) =>
  (await s.client.workflow.getHandle(workflowId).describe()).searchAttributes.OpenException;

describe('operator actions and SLA escalations on the real dev server with the sandboxes', () => {
  it('when finance records a proof of delivery by hand on a missing-POD shipment then its case closes and it is billed as delivered', async () => {
    stack = await startStack({ scale: 3600, settings: { missingPodMinutes: 30 } });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    expect(
      await rejection(
        handle.executeUpdate(recordPodUpdate, { args: [{ by: 'fin-ana', evidence: 'too early' }] }),
      ),
    ).toBe('POD_NOT_EXPECTED');
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    await stack.waitFor(workflowId, (st) => st.openCases.some((c) => c.kind === 'missing_pod'), 20_000);
    const answer = await handle.executeUpdate(recordPodUpdate, {
      args: [{ by: 'fin-ana', evidence: 'signed delivery note scanned by the depot' }],
    });
    expect(answer.outcome).toBe('delivered');
    const result = await handle.result();
    expect(result.outcome).toBe('delivered');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'DELIVERED#1',
      'BILLED#1',
    ]);
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toHaveLength(1);
    const cases = await crmCases(stack.crm.url, workflowId);
    expect(cases.map((c) => [c.kind, c.status])).toEqual([['missing_pod', 'solved']]);
    const closed = await stack.waitFor(workflowId, () => true);
    expect(closed.manualPod).toMatchObject({
      by: 'fin-ana',
      evidence: 'signed delivery note scanned by the depot',
    });
  });

  it('when a dispatcher cancels a planned shipment then the dispatch task is cancelled, ERP gets a cancelled milestone, its cases close and nothing is billed', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    await drive(stack, workflowId, ['delivery.delayed.v1'], {
      'delivery.delayed.v1': { delaySeconds: 3 * 3600 },
    });
    await stack.waitFor(workflowId, (x) => x.openCases.some((c) => c.kind === 'delay'));
    expect(await dispatchTasks(stack, workflowId)).toHaveLength(1);
    expect(
      await rejection(handle.executeUpdate(cancelShipmentUpdate, { args: [{ by: 'disp-1', reason: '' }] })),
    ).toBe('VALIDATION_FAILED');
    await handle.executeUpdate(cancelShipmentUpdate, {
      args: [{ by: 'disp-1', reason: 'customer closed the site' }],
    });
    const result = await handle.result();
    expect(result).toMatchObject({ outcome: 'cancelled', billingDocumentId: '' });
    expect(await dispatchTasks(stack, workflowId)).toEqual([]);
    const milestones = await erpMilestones(stack.erp.url, order.deliveryId);
    expect(milestones).toContain('CANCELLED#1');
    expect(milestones).not.toContain('BILLED#1');
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);
    const cases = await crmCases(stack.crm.url, workflowId);
    expect(cases.length).toBeGreaterThan(0);
    expect(cases.every((c) => c.status === 'solved')).toBe(true);
    expect((await crmNotices(stack.crm.url, workflowId)).some((n) => /cancelled/.test(n.body))).toBe(true);
    const closed = await stack.waitFor(workflowId, () => true);
    expect(closed.operatorAction).toMatchObject({ action: 'cancel', by: 'disp-1' });
    expect(await duplicateEffects(stack.erp.url)).toEqual([]);
  });

  it('when a dispatcher forces the goods back then the task is cancelled, ERP gets a returned milestone and the return is billed', async () => {
    stack = await startStack();
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1']);
    await stack.waitFor(workflowId, (st) => st.phase === 'planned');
    const answer = await handle.executeUpdate(forceReturnUpdate, {
      args: [{ by: 'disp-1', reason: 'truck broke down, goods back to the depot' }],
    });
    expect(answer).toMatchObject({ phase: 'returned', outcome: 'returned' });
    const result = await handle.result();
    expect(result.outcome).toBe('returned');
    expect(await dispatchTasks(stack, workflowId)).toEqual([]);
    const milestones = await erpMilestones(stack.erp.url, order.deliveryId);
    expect(milestones).toEqual(expect.arrayContaining(['PLANNED#1', 'RETURNED#1', 'BILLED#1']));
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toHaveLength(1);
  });

  it('when finance leaves charges waiting past the approval SLA then it escalates, and past the second limit the base is billed as decided by sla-default', async () => {
    stack = await startStack({
      scale: 3600,
      settings: { approvalThreshold: 50, approvalSlaMinutes: 60, approvalDefaultMinutes: 360 },
    });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'], {
      'delivery.completed.v1': { accessorials: { liftgate: true, waitingMinutes: 45 } },
    });
    const breached = await stack.waitFor(workflowId, (st) => !!st.slaBreaches?.some((b) => b.open));
    expect(breached).toMatchObject({ phase: 'awaiting_approval' });
    expect(breached.slaBreaches).toEqual([
      expect.objectContaining({ kind: 'approval', round: 1, open: true }),
    ]);
    await expect.poll(() => openException(stack!, workflowId)).toEqual(['sla_breached']);
    await expect
      .poll(async () => (await crmCases(stack!.crm.url, workflowId)).map((c) => c.kind))
      .toEqual(['sla_breached']);
    const result = await handle.result();
    expect(result.charges.map((c) => c.code).sort()).toEqual(
      result.charges
        .filter((c) => c.code === 'BASE' || c.code === 'MILEAGE')
        .map((c) => c.code)
        .sort(),
    );
    expect((await erpBilling(stack.erp.url, order.deliveryId))[0]?.approvedBy).toBe('sla-default');
    const closed = await stack.waitFor(workflowId, () => true);
    expect(closed.slaBreaches).toEqual([
      expect.objectContaining({ kind: 'approval', open: false, ended: 'default' }),
    ]);
    expect((await crmCases(stack.crm.url, workflowId)).every((c) => c.status === 'solved')).toBe(true);
  });

  it('when no proof of delivery comes past the missing-POD SLA then it escalates, and past the second limit the attempt counts as failed and the playbook returns the goods', async () => {
    stack = await startStack({
      scale: 3600,
      settings: {
        maxAttempts: 1,
        missingPodMinutes: 30,
        missingPodSlaMinutes: 60,
        missingPodDefaultMinutes: 360,
      },
    });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1']);
    const breached = await stack.waitFor(
      workflowId,
      (st) => !!st.slaBreaches?.some((b) => b.kind === 'missing_pod' && b.open),
      20_000,
    );
    expect(breached.phase).toBe('in_transit');
    await expect.poll(() => openException(stack!, workflowId)).toEqual(['sla_breached']);
    const result = await handle.result();
    expect(result.outcome).toBe('returned');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual(
      expect.arrayContaining(['FAILED_ATTEMPT#1', 'RETURNED#1', 'BILLED#1']),
    );
    expect(await dispatchTasks(stack, workflowId)).toEqual([]);
    const cases = await crmCases(stack.crm.url, workflowId);
    expect(cases.map((c) => c.kind).sort()).toEqual(['failed_attempt', 'missing_pod', 'sla_breached']);
    expect(cases.every((c) => c.status === 'solved')).toBe(true);
  });

  it('when the missing-POD SLA escalates, the driver then starts and the new wait escalates too, then each escalation is a case of its own and the CRM opens no ticket twice', async () => {
    stack = await startStack({
      scale: 3600,
      settings: {
        maxAttempts: 1,
        missingPodMinutes: 30,
        missingPodSlaMinutes: 60,
        missingPodDefaultMinutes: 10_000,
      },
    });
    const { workflowId } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1']);
    const missingPodBreaches = (st: { slaBreaches?: { kind: string; open: boolean }[] }) =>
      (st.slaBreaches ?? []).filter((b) => b.kind === 'missing_pod');
    await stack.waitFor(workflowId, (st) => missingPodBreaches(st).some((b) => b.open), 20_000);
    // The driver starts: that wait ends (its escalation case is solved) and a new one begins, still without POD.
    await drive(stack, workflowId, ['stop.started.v1']);
    const again = await stack.waitFor(
      workflowId,
      (st) => missingPodBreaches(st).length === 2 && missingPodBreaches(st)[1]!.open,
      20_000,
    );
    expect(again.phase).toBe('in_transit');
    await expect
      .poll(async () =>
        (await crmCases(stack!.crm.url, workflowId))
          .filter((c) => c.kind === 'sla_breached')
          .map((c) => c.status === 'solved')
          .sort(),
      )
      .toEqual([false, true]);
    // The first escalation was solved because the driver started, and its ticket says so, not that the attempt ended.
    const solved = (await crmCases(stack.crm.url, workflowId)).find(
      (c) => c.kind === 'sla_breached' && c.status === 'solved',
    );
    const closing = (await ticketComments(stack.crm.url, solved!.ticketId)).at(-1)?.body;
    expect(closing).toContain('The driver started the stop');
    expect(closing).not.toContain('The attempt has an outcome');
    expect(await duplicateEffects(stack.crm.url)).toEqual([]);
  });

  it('when parked work keeps a shipment open past the parked SLA then it escalates, again after the repeat interval, and stays parked until an operator acts', async () => {
    stack = await startStack({ scale: 3600, settings: { parkedSlaMinutes: 60, parkedRepeatMinutes: 120 } });
    await setErpRules(stack.erp.url, { rejectMilestoneCodes: ['DISPATCHED'] });
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, published);
    await drive(stack, workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1']);
    const twice = await stack.waitFor(
      workflowId,
      (st) => (st.slaBreaches ?? []).filter((b) => b.kind === 'parked').length >= 2,
      20_000,
    );
    expect(twice.phase).toBe('billing');
    expect(twice.parked).toHaveLength(1);
    await expect.poll(() => openException(stack!, workflowId)).toEqual(['sla_breached']);
    await expect
      .poll(
        async () =>
          (await crmCases(stack!.crm.url, workflowId)).filter((c) => c.kind === 'sla_breached').length,
      )
      .toBeGreaterThanOrEqual(2);
    await setErpRules(stack.erp.url, { rejectMilestoneCodes: [] });
    await handle.executeUpdate(retryParkedUpdate, { args: [{ parkedId: 'p1', by: 'disp-1' }] });
    expect((await handle.result()).outcome).toBe('delivered');
    expect((await crmCases(stack.crm.url, workflowId)).every((c) => c.status === 'solved')).toBe(true);
  });
});
