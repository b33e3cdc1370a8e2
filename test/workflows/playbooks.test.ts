import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { simAt } from '../../src/domain/clock.js';
import type { Address } from '../../src/domain/model.js';
import {
  approveChargesUpdate,
  correctAddressUpdate,
  rescheduleUpdate,
  resolveExceptionUpdate,
  type ShipmentStatus,
} from '../../src/workflows/shipment/contract.js';
import {
  businessFailure,
  simMinute,
  startStubHarness,
  stubLocation,
  updateRejection,
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

const published = (s: ShipmentStatus) => s.phase === 'published' && !!s.taskId;
/** ERP milestones as `CODE#attempt`, one per call, so a milestone posted twice shows up twice. */
const codes = () =>
  h.systems.inputs('erpPostMilestone').map((m) => `${m.milestone.toUpperCase()}#${m.attempt}`);

/** An address whose ZIP belongs to another city, which the geocoder flags. */
const MISMATCHED: Address = {
  street: '233 S Wacker Dr',
  city: 'Chicago',
  state: 'IL',
  postalCode: '30301',
  country: 'US',
};

/** The geocoder flags ZIP 30301 as not matching Chicago, like the offline ZIP table does. */
function flagAtlantaZip() {
  h.systems.override('geocodeAddress', async (address) => ({
    ...(await h.systems.defaults.geocodeAddress(address)),
    ...(address.postalCode === '30301' ? { mismatch: 'ZIP 30301 is in Atlanta, GA, not Chicago, IL' } : {}),
  }));
}

describe('ShipmentWorkflow playbooks with stub activities', () => {
  it('when the driver delivers then ERP gets planned, dispatched, delivered and billed once each, goods issue once, and no case opens', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', 'stop.arrived.v1', 'delivery.completed.v1');
    const result = await sh.handle.result();

    expect(result.outcome).toBe('delivered');
    expect(codes()).toEqual(['PLANNED#1', 'DISPATCHED#1', 'DELIVERED#1', 'BILLED#1']);
    expect(h.systems.inputs('erpPostGoodsIssue')).toHaveLength(1);
    expect(h.systems.inputs('erpPostBilling')).toHaveLength(1);
    expect(h.systems.billing[0]?.doc.total).toBe(result.total);
    expect(result.billingDocumentId).toBe(h.systems.billing[0]?.billingDocumentId);
    expect(h.systems.inputs('crmOpenCase')).toEqual([]);
    // The job went out with the order's address, where the geocoder put it, for the requested window.
    expect(h.systems.tasks.size).toBe(1);
    const [task] = h.systems.tasks.values();
    expect(task?.job).toMatchObject({
      attempt: 1,
      address: sh.order.address,
      location: stubLocation(sh.order.address),
      window: sh.order.requestedWindow,
    });
    // One planned notice, carrying the plan machine-readable.
    const plans = h.systems.notices.filter((n) => n.plan);
    expect(plans).toHaveLength(1);
    expect(plans[0]?.plan?.window).toEqual(sh.order.requestedWindow);
    expect(await sh.status()).toMatchObject({ phase: 'closed', billingDocumentId: result.billingDocumentId });
  });

  it('when the first attempt fails then a case and a notice follow and a second attempt is published for the next service day', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', 'delivery.failed.v1');
    const second = await sh.until((s) => s.attempts === 2 && published(s));

    const nextWindow = { start: '2026-12-02T07:00:00.000Z', end: '2026-12-02T09:00:00.000Z' };
    expect(second.window).toEqual(nextWindow);
    const jobs = [...h.systems.tasks.values()].map((t) => t.job);
    expect(jobs.map((j) => [j.attempt, j.window])).toEqual([
      [1, sh.order.requestedWindow],
      [2, nextWindow],
    ]);
    expect(second.taskId).toBe([...h.systems.tasks.keys()][1]);
    // Dispatch plans the reattempt on its own day (asked right after the attempt shows as published).
    await vi.waitFor(
      () =>
        expect(h.systems.inputs('ensureRegionPlanning').at(-1)).toEqual({
          region: 'CHI',
          date: '2026-12-02',
        }),
      { timeout: 10_000 },
    );
    await vi.waitFor(() => {
      expect(h.systems.cases.map((c) => c.kind)).toEqual(['failed_attempt']);
      expect(h.systems.notices.map((n) => n.message)).toContainEqual(
        expect.stringContaining(`We will try again on ${nextWindow.start} to ${nextWindow.end}`),
      );
    }, 10_000);

    await sh.send('route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1');
    const result = await sh.handle.result();
    expect(result).toMatchObject({ outcome: 'delivered', attempts: 2 });
    expect(result.charges.map((c) => c.code)).toContain('REDELIVERY');
    expect(codes()).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'FAILED_ATTEMPT#1',
      'PLANNED#2',
      'DISPATCHED#2',
      'DELIVERED#2',
      'BILLED#2',
    ]);
    expect(h.systems.inputs('erpPostGoodsIssue')).toHaveLength(1);
    expect(h.systems.cases.every((c) => !c.open)).toBe(true);
  });

  it('when the last allowed attempt fails then the goods return to the depot and the return is billed', async () => {
    const sh = await h.start({ settings: { maxAttempts: 1 } });
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', ['delivery.failed.v1', { reason: 'refused' }]);
    const result = await sh.handle.result();

    expect(result).toMatchObject({ outcome: 'returned', attempts: 1 });
    expect(result.charges.map((c) => c.code)).toContain('RETURN');
    expect(result.charges.map((c) => c.code)).not.toContain('REDELIVERY');
    expect(h.systems.tasks.size).toBe(1);
    expect(codes()).toEqual(['PLANNED#1', 'DISPATCHED#1', 'FAILED_ATTEMPT#1', 'RETURNED#1', 'BILLED#1']);
    expect(h.systems.cases.map((c) => c.kind)).toEqual(['failed_attempt']);
    expect(h.systems.notices.map((n) => n.message)).toContainEqual(
      expect.stringContaining('returning to our depot'),
    );
    expect(h.systems.billing.map((b) => b.doc.charges.map((c) => c.code))).toEqual([
      expect.arrayContaining(['BASE', 'RETURN']),
    ]);
  });

  it('when the goods are damaged then an urgent damage case opens, the customer is told and the shipment returns without a reattempt', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', ['delivery.failed.v1', { reason: 'damaged' }]);
    const result = await sh.handle.result();

    expect(result).toMatchObject({ outcome: 'returned', attempts: 1 });
    expect(h.systems.tasks.size).toBe(1);
    expect(h.systems.cases.map((c) => [c.kind, c.priority])).toEqual([['damage', 'urgent']]);
    expect(h.systems.notices.map((n) => n.message)).toContainEqual(
      expect.stringContaining('damaged in transit'),
    );
    expect(codes()).toEqual(['PLANNED#1', 'DISPATCHED#1', 'FAILED_ATTEMPT#1', 'RETURNED#1', 'BILLED#1']);
  });

  it('when the driver runs late past the notice threshold then ERP gets one delayed milestone and the customer one notice; only a severe delay opens a case', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', ['delivery.delayed.v1', { delaySeconds: 45 * 60 }]);
    await sh.until((s) => s.milestones.some((m) => m.milestone === 'delayed'));
    await vi.waitFor(() =>
      expect(h.systems.notices.map((n) => n.message)).toContainEqual(
        expect.stringContaining('running about 45 minutes late'),
      ),
    );
    // The first notice opens the shipment's notice ticket; the next names the ticket the first answered.
    expect(h.systems.notices.map((n) => [n.firstNotice, n.threadId])).toEqual([
      [true, undefined],
      [undefined, expect.stringMatching(/^notices-shipment-/)],
    ]);

    await sh.send(['delivery.delayed.v1', { delaySeconds: 3 * 3600 }]);
    await sh.until((s) => s.openCases.some((c) => c.kind === 'delay'));
    // The one case is the severe delay's: the 45-minute delay opened none.
    expect(h.systems.inputs('crmOpenCase').map((c) => [c.kind, c.priority, c.description])).toEqual([
      ['delay', 'high', expect.stringContaining('about 180 minutes')],
    ]);

    await sh.send('delivery.completed.v1');
    expect((await sh.handle.result()).outcome).toBe('delivered');
    expect(codes().filter((m) => m.startsWith('DELAYED'))).toEqual(['DELAYED#1']);
    expect(h.systems.notices.filter((n) => /late/.test(n.message))).toHaveLength(1);
  });

  it('when no proof of delivery arrives by the deadline after the window then a missing-POD case opens, and a late POD still closes the shipment', async () => {
    const sh = await h.start({
      scale: 3600,
      settings: { missingPodMinutes: 30 },
      order: { requestedWindow: { start: simMinute(10), end: simMinute(30) } },
    });
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1');
    await sh.until((s) => s.openCases.some((c) => c.kind === 'missing_pod'));

    const [opened] = h.systems.callsOf('crmOpenCase');
    expect(opened?.input).toMatchObject({ kind: 'missing_pod', priority: 'high' });
    // Not before the window end plus the grace.
    expect(simAt(sh.clock, opened!.at)).toBeGreaterThanOrEqual(Date.parse(simMinute(30 + 30)));

    await sh.send('delivery.completed.v1');
    expect((await sh.handle.result()).outcome).toBe('delivered');
    expect(h.systems.cases).toMatchObject([{ kind: 'missing_pod', open: false }]);
  });

  it('when the ZIP does not match the city then the shipment holds with a case and a notice, and a corrected address publishes it', async () => {
    flagAtlantaZip();
    const sh = await h.start({ order: { address: MISMATCHED } });
    await sh.until((s) => s.phase === 'on_hold' && s.openCases.some((c) => c.kind === 'address_mismatch'));
    expect(h.systems.tasks.size).toBe(0);
    await vi.waitFor(() =>
      expect(h.systems.notices.map((n) => n.message)).toContainEqual(
        expect.stringContaining('could not confirm your delivery address'),
      ),
    );

    const corrected = { ...MISMATCHED, postalCode: '60606' };
    await sh.handle.executeUpdate(correctAddressUpdate, {
      args: [{ address: corrected, correctedBy: 'agent' }],
    });
    const status = await sh.until(published);

    expect(status.openCases).toEqual([]);
    expect(h.systems.cases).toMatchObject([{ kind: 'address_mismatch', open: false }]);
    const task = h.systems.task(status.taskId!);
    expect(task.job).toMatchObject({ address: corrected, location: stubLocation(corrected) });
  });

  it('when the geocoder cannot locate the address at all then the shipment holds for a correction instead of failing', async () => {
    h.systems.override('geocodeAddress', async (address) => {
      if (address.street === '1 Nowhere Ln') throw businessFailure('ADDRESS_NOT_FOUND', 'no such street');
      return h.systems.defaults.geocodeAddress(address);
    });
    const sh = await h.start({
      order: { address: { ...MISMATCHED, street: '1 Nowhere Ln', postalCode: '60606' } },
    });
    await sh.until((s) => s.phase === 'on_hold' && s.openCases.some((c) => c.kind === 'address_mismatch'));

    const corrected = { ...MISMATCHED, postalCode: '60606' };
    await sh.handle.executeUpdate(correctAddressUpdate, {
      args: [{ address: corrected, correctedBy: 'agent' }],
    });
    const status = await sh.until(published);
    expect(h.systems.task(status.taskId!).job).toMatchObject({
      address: corrected,
      location: stubLocation(corrected),
    });
  });

  it('when nobody corrects a held address in time then the shipment returns without ever being published, and the return is billed', async () => {
    flagAtlantaZip();
    const sh = await h.start({
      scale: 3600,
      settings: { addressHoldMinutes: 60 },
      order: { address: MISMATCHED },
    });
    const result = await sh.handle.result();

    expect(result).toMatchObject({ outcome: 'returned', attempts: 0 });
    expect(h.systems.tasks.size).toBe(0);
    expect(codes()).toEqual(['RETURNED#1', 'BILLED#1']);
    expect(h.systems.billing.map((b) => b.doc.charges.map((c) => c.code))).toEqual([['BASE', 'RETURN']]);
    expect(h.systems.notices.map((n) => n.message)).toContainEqual(
      expect.stringContaining('could not confirm your address in time'),
    );
    expect(h.systems.cases).toMatchObject([{ kind: 'address_mismatch', open: false }]);
  });

  it('when accessorials pass the threshold then billing waits for finance, and the approval posts it with the approver', async () => {
    const sh = await h.start({ settings: { approvalThreshold: 50 } });
    await sh.until(published);
    expect(
      await updateRejection(
        sh.handle.executeUpdate(approveChargesUpdate, { args: [{ approvedBy: 'fin-ops', approve: true }] }),
      ),
    ).toBe('APPROVAL_NOT_PENDING');
    await sh.send('route.assigned.v1', 'stop.started.v1', [
      'delivery.completed.v1',
      { accessorials: { liftgate: true, waitingMinutes: 45 } },
    ]);
    await sh.until((s) => s.phase === 'awaiting_approval' && s.awaitingApproval);
    // Finance finds it in visibility.
    await expect
      .poll(async () => (await sh.handle.describe()).searchAttributes.ShipmentStatus, { timeout: 5_000 })
      .toEqual(['awaiting_approval']);
    expect(h.systems.inputs('erpPostBilling')).toEqual([]);
    expect(codes()).not.toContain('BILLED#1');

    const approved = await sh.handle.executeUpdate(approveChargesUpdate, {
      args: [{ approvedBy: 'fin-ops', approve: true }],
    });
    const result = await sh.handle.result();
    expect(approved.total).toBe(result.total);
    expect(result.charges.map((c) => c.code)).toEqual(expect.arrayContaining(['LIFTGATE', 'WAITING']));
    expect(h.systems.billing).toHaveLength(1);
    expect(h.systems.billing[0]?.doc).toMatchObject({ approvedBy: 'fin-ops', total: result.total });
    expect(codes()).toEqual(['PLANNED#1', 'DISPATCHED#1', 'DELIVERED#1', 'BILLED#1']);
  });

  it('when finance rejects charges over the threshold then the shipment is billed without the accessorials', async () => {
    const sh = await h.start({ settings: { approvalThreshold: 50 } });
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', [
      'delivery.completed.v1',
      { accessorials: { liftgate: true, waitingMinutes: 45 } },
    ]);
    await sh.until((s) => s.awaitingApproval);
    await sh.handle.executeUpdate(approveChargesUpdate, {
      args: [{ approvedBy: 'fin-ops', approve: false }],
    });
    const result = await sh.handle.result();
    expect(h.systems.billing[0]?.doc.charges.map((c) => c.code)).toEqual(['BASE', 'MILEAGE']);
    expect(result.charges.map((c) => c.code)).toEqual(['BASE', 'MILEAGE']);
  });

  it('when an agent resolves an open exception then its case is closed once with the resolution, and resolving it again is rejected', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', [
      'delivery.delayed.v1',
      { delaySeconds: 3 * 3600 },
    ]);
    const withCase = await sh.until((s) => s.openCases.some((c) => c.kind === 'delay'));
    const caseId = withCase.openCases[0]!.caseId;

    const resolved = await sh.handle.executeUpdate(resolveExceptionUpdate, {
      args: [{ kind: 'delay', resolution: 'Customer agreed to the later arrival' }],
    });
    expect(resolved.openCases).toBe(0);
    expect(h.systems.inputs('crmCloseCase')).toMatchObject([
      { caseId, resolution: 'Customer agreed to the later arrival' },
    ]);
    expect(await sh.status()).toMatchObject({ openCases: [], closedCases: 1 });
    expect(
      await updateRejection(
        sh.handle.executeUpdate(resolveExceptionUpdate, { args: [{ kind: 'delay', resolution: 'again' }] }),
      ),
    ).toBe('EXCEPTION_NOT_OPEN');

    await sh.send('delivery.completed.v1');
    expect((await sh.handle.result()).outcome).toBe('delivered');
    // Closing the shipment does not close the resolved case a second time.
    expect(h.systems.inputs('crmCloseCase').filter((c) => c.caseId === caseId)).toHaveLength(1);
  });

  it('when an agent resolves the only open exception then visibility stops listing the shipment under it', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1', 'stop.started.v1', [
      'delivery.delayed.v1',
      { delaySeconds: 3 * 3600 },
    ]);
    await sh.until((s) => s.openCases.some((c) => c.kind === 'delay'));
    const openException = async () => (await sh.handle.describe()).searchAttributes.OpenException;
    await expect.poll(openException, { timeout: 3_000 }).toEqual(['delay']);

    await sh.handle.executeUpdate(resolveExceptionUpdate, {
      args: [{ kind: 'delay', resolution: 'Customer agreed to the later arrival' }],
    });
    await expect.poll(openException, { timeout: 3_000 }).toEqual(['none']);
  });

  it('when no driver is assigned by the window end then the task is cancelled and the attempt fails as not assigned', async () => {
    const sh = await h.start({
      scale: 3600,
      settings: {
        maxAttempts: 1,
        noAssignmentGraceMinutes: 10,
        planningCutoffHourUtc: 6,
        // The unanswered case's own resolution SLA (case-sla.test.ts) stays out of this story.
        caseSlaMinutes: { no_assignment: { escalate: 600, default: 1200 } },
      },
      order: { requestedWindow: { start: simMinute(15), end: simMinute(75) } },
    });
    // The attempt is lost within about a second of real time: read its task from dispatch, not from a poll.
    const result = await sh.handle.result();
    const [task] = h.systems.tasks.values();

    // Escalated once the grace after the 06:00 cutoff passed, cancelled once the window closed.
    const escalation = h.systems.callsOf('crmOpenCase').find((c) => c.input.kind === 'no_assignment');
    expect(escalation?.input.priority).toBe('urgent');
    expect(simAt(sh.clock, escalation!.at)).toBeGreaterThanOrEqual(Date.parse('2026-12-01T06:10:00Z'));
    const [cancel] = h.systems.callsOf('dispatchCancelTask');
    expect(cancel?.input).toEqual({ taskId: task?.taskId });
    expect(simAt(sh.clock, cancel!.at)).toBeGreaterThanOrEqual(Date.parse(simMinute(75)));
    expect(task?.cancelled).toBe(true);

    expect(result).toMatchObject({ outcome: 'returned', attempts: 1 });
    expect(codes()).toEqual(['FAILED_ATTEMPT#1', 'RETURNED#1', 'BILLED#1']);
    expect(h.systems.inputs('crmOpenCase').map((c) => [c.kind, c.description])).toEqual([
      ['no_assignment', expect.any(String)],
      ['failed_attempt', 'No driver was assigned before the window closed.'],
    ]);
  });

  it('when an agent corrects the address after publishing then dispatch gets the new address with its newly geocoded location', async () => {
    const sh = await h.start();
    const { taskId } = await sh.until(published);
    const corrected: Address = { ...sh.order.address, street: '500 W Madison St', postalCode: '60661' };
    expect(stubLocation(corrected)).not.toEqual(stubLocation(sh.order.address));

    const reply = await sh.handle.executeUpdate(correctAddressUpdate, {
      args: [{ address: corrected, correctedBy: 'agent' }],
    });
    expect(reply.phase).toBe('published');
    expect(h.systems.inputs('geocodeAddress').at(-1)).toEqual(corrected);
    expect(h.systems.inputs('dispatchUpdateDestination')).toEqual([
      { taskId, address: corrected, location: stubLocation(corrected) },
    ]);
    expect(h.systems.task(taskId!)).toMatchObject({ address: corrected, location: stubLocation(corrected) });
    // No second task, no hold: the same attempt goes on.
    expect(h.systems.tasks.size).toBe(1);
    expect(await sh.status()).toMatchObject({ phase: 'published', taskId, attempts: 1 });
  });

  it('when an agent reschedules a planned shipment then dispatch moves the task, ERP gets the re-planned ETA and the customer is told', async () => {
    const sh = await h.start();
    const { taskId } = await sh.until(published);
    await sh.send('route.assigned.v1');
    await sh.until((s) => s.phase === 'planned' && s.milestones.length === 1);
    const window = { start: '2026-12-02T14:00:00.000Z', end: '2026-12-02T16:00:00.000Z' };

    const accepted = await sh.handle.executeUpdate(rescheduleUpdate, {
      args: [{ window, reason: 'customer asked', requestedBy: 'agent' }],
    });
    const eta = '2026-12-02T14:45:00.000Z';
    expect(accepted).toMatchObject({ window, eta });
    expect(h.systems.task(taskId!).window).toEqual(window);
    expect(await sh.status()).toMatchObject({ window, eta });
    await vi.waitFor(() => {
      expect(h.systems.inputs('ensureRegionPlanning').at(-1)).toEqual({ region: 'CHI', date: '2026-12-02' });
      expect(h.systems.milestones.map((m) => [m.milestone, m.eta])).toContainEqual(['planned', eta]);
      expect(h.systems.notices.map((n) => n.plan)).toContainEqual({ eta, window });
    });
  });

  it('when an agent reschedules while the region planning of the new date is slow then the answer does not wait for it', async () => {
    const sh = await h.start();
    await sh.until(published);
    await sh.send('route.assigned.v1');
    await sh.until((s) => s.phase === 'planned' && s.milestones.length === 1);
    const planning = h.systems.hold('ensureRegionPlanning');
    const window = { start: '2026-12-03T14:00:00.000Z', end: '2026-12-03T16:00:00.000Z' };

    const answer = await sh.handle.executeUpdate(rescheduleUpdate, {
      args: [{ window, reason: 'customer asked', requestedBy: 'agent' }],
    });
    expect(answer).toMatchObject({ window });
    // Answered while the planning call is still held open (waiting for it, the answer would only come after
    // the held call timed out and a second call succeeded).
    const movedDate = (i: { date: string }) => i.date === '2026-12-03';
    expect(h.systems.inputs('ensureRegionPlanning').filter(movedDate).length).toBeLessThanOrEqual(1);
    expect(await planning.reached).toEqual({ region: 'CHI', date: '2026-12-03' });
    planning.open();
    await vi.waitFor(() => {
      expect(h.systems.milestones.filter((m) => m.milestone === 'planned')).toHaveLength(2);
    });
  });

  it('when the driver is assigned before the task creation is recorded then the early events are applied once it is', async () => {
    const creating = h.systems.hold('dispatchCreateTask');
    const sh = await h.start();
    await creating.reached;
    // Dispatch already runs the task it is creating; its id is the one creation will return.
    const taskId = `tsk-${sh.order.deliveryId}-1-1`;
    await sh.send(['route.assigned.v1', { taskId, attempt: 1 }], ['stop.started.v1', { taskId, attempt: 1 }]);
    expect((await sh.status()).phase).toBe('validating');

    creating.open();
    const status = await sh.until((s) => s.phase === 'in_transit');
    expect(status).toMatchObject({ taskId, driverId: 'drv-1', eventsIgnored: 0 });
    await vi.waitFor(() => expect(codes()).toEqual(['PLANNED#1', 'DISPATCHED#1']));
  });
});
