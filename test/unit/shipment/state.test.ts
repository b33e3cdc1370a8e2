import { describe, expect, it } from 'vitest';
import type { DispatchEvent } from '../../../src/domain/events.js';
import { ShipmentSettings } from '../../../src/workflows/shipment/contract.js';
import {
  applyDispatchEvent,
  initialState,
  releaseHeldEvents,
  type ShipmentState,
} from '../../../src/workflows/shipment/state.js';
import { sampleOrder } from '../../support/fixtures.js';

const settings = ShipmentSettings.parse({});
const t = (minute: number) => new Date(Date.parse('2026-12-01T14:00:00Z') + minute * 60_000).toISOString();

function published(): ShipmentState {
  const s = initialState('shipment-80000001', sampleOrder());
  s.phase = 'published';
  s.attempt = 1;
  s.taskIds[1] = 'task-1';
  return s;
}

function ev(
  type: DispatchEvent['type'],
  minute: number,
  data: Record<string, unknown> = {},
  attempt = 1,
): DispatchEvent {
  const base = { taskId: 'task-1', attempt };
  const payloads: Record<string, Record<string, unknown>> = {
    'route.assigned.v1': { ...base, driverId: 'drv-1', eta: t(30) },
    'route.unassigned.v1': { ...base },
    'stop.started.v1': { ...base, driverId: 'drv-1' },
    'stop.eta.v1': { ...base, eta: t(40), driftSeconds: 600 },
    'delivery.delayed.v1': { ...base, eta: t(200), delaySeconds: 3 * 3600 },
    'stop.arrived.v1': { ...base, arrivedAt: t(minute) },
    'delivery.completed.v1': {
      ...base,
      pod: {
        deliveredAt: t(minute),
        location: { lat: 41.88, lng: -87.63 },
        signatureId: 'sig',
        photoIds: [],
        notes: '',
      },
      mileageKm: 12.5,
      accessorials: { liftgate: true, waitingMinutes: 20 },
    },
    'delivery.failed.v1': {
      ...base,
      reason: 'recipient_absent',
      failedAt: t(minute),
      notes: '',
      mileageKm: 4,
    },
  };
  return {
    specversion: '1.0',
    id: `${type}-${attempt}-${minute}`,
    source: 'test',
    type,
    subject: 'shipment-80000001',
    time: t(minute),
    datacontenttype: 'application/json',
    correlationid: 'shipment-80000001',
    sequence: minute,
    data: { ...payloads[type], ...data },
  } as DispatchEvent;
}

const milestones = (s: ShipmentState) =>
  s.todo.filter((a) => a.kind === 'milestone').map((a) => (a.kind === 'milestone' ? a.milestone : ''));

describe('dispatch event reducer', () => {
  it('when events arrive in order then the shipment walks to delivered with one milestone per stage', () => {
    const s = published();
    for (const e of [
      ev('route.assigned.v1', 0),
      ev('stop.started.v1', 10),
      ev('stop.arrived.v1', 30),
      ev('delivery.completed.v1', 35),
    ]) {
      expect(applyDispatchEvent(s, e, settings)).toBe('applied');
    }
    expect(s.phase).toBe('delivered');
    expect(milestones(s)).toEqual(['planned', 'dispatched']);
    expect(s.todo.some((a) => a.kind === 'goodsIssue')).toBe(true);
    expect(s.mileageKm).toBe(12.5);
    expect(s.liftgateUsed).toBe(true);
  });

  it('when the same event arrives three times then it is applied once', () => {
    const s = published();
    const e = ev('route.assigned.v1', 0);
    expect([
      applyDispatchEvent(s, e, settings),
      applyDispatchEvent(s, e, settings),
      applyDispatchEvent(s, e, settings),
    ]).toEqual(['applied', 'ignored', 'ignored']);
    expect(milestones(s)).toEqual(['planned']);
  });

  it('when taskFailed arrives after taskCompleted for the same attempt then nothing changes', () => {
    const s = published();
    applyDispatchEvent(s, ev('delivery.completed.v1', 35), settings);
    const before = JSON.stringify({ ...s, seenEventIds: [] });
    expect(applyDispatchEvent(s, ev('delivery.failed.v1', 20), settings)).toBe('ignored');
    expect(s.phase).toBe('delivered');
    expect(JSON.stringify({ ...s, seenEventIds: [], ignored: undefined })).toBe(
      before.replace('"eventsIgnored":0', '"eventsIgnored":1'),
    );
    expect(s.ignored).toEqual([
      expect.objectContaining({ type: 'delivery.failed.v1', reason: 'attempt_closed' }),
    ]);
  });

  it('when arrival comes before started and assigned then planned and dispatched are still reported once each', () => {
    const s = published();
    applyDispatchEvent(s, ev('stop.arrived.v1', 30), settings);
    applyDispatchEvent(s, ev('stop.started.v1', 10), settings);
    applyDispatchEvent(s, ev('route.assigned.v1', 0), settings);
    expect(milestones(s)).toEqual(['planned', 'dispatched']);
    expect(s.phase).toBe('in_transit');
  });

  it('when an older ETA arrives after a newer one then the newer ETA stays', () => {
    const s = published();
    applyDispatchEvent(s, ev('stop.eta.v1', 20, { eta: t(50) }), settings);
    applyDispatchEvent(s, ev('stop.eta.v1', 10, { eta: t(45) }), settings);
    expect(s.eta).toBe(t(50));
  });

  it('when an event names a later attempt then it is held, and one of an earlier attempt is ignored', () => {
    const s = published();
    expect(applyDispatchEvent(s, ev('delivery.completed.v1', 30, {}, 2), settings)).toBe('held');
    expect(s.phase).toBe('published');
    s.attempt = 2;
    expect(applyDispatchEvent(s, ev('stop.started.v1', 31, {}, 1), settings)).toBe('ignored');
  });

  it('when an event names a task the shipment did not create then nothing changes and the reason is kept', () => {
    const s = published();
    const foreign = ev('delivery.failed.v1', 20, { taskId: 'cloned-task', reason: 'damaged' });
    expect(applyDispatchEvent(s, foreign, settings)).toBe('ignored');
    expect(s.phase).toBe('published');
    expect(s.failures).toEqual([]);
    expect(s.todo).toEqual([]);
    expect(s.ignored).toEqual([{ eventId: foreign.id, type: 'delivery.failed.v1', reason: 'foreign_task' }]);
  });

  it('when a held event names a task other than the one created for its attempt then it is ignored on release', () => {
    const s = published();
    applyDispatchEvent(s, ev('route.assigned.v1', 0, { taskId: 'task-2' }, 2), settings);
    s.attempt = 2;
    s.taskIds[2] = 'task-2b';
    s.progress = { ...s.progress, rank: 0 };
    releaseHeldEvents(s, settings);
    expect(milestones(s)).toEqual([]);
    expect(s.ignored?.map((i) => i.reason)).toEqual(['foreign_task']);
  });

  it('when more events arrive than the dedup window holds then only the latest ids are remembered', () => {
    const s = published();
    const small = ShipmentSettings.parse({ eventDedupWindow: 8 });
    const etas = Array.from({ length: 30 }, (_, i) => ev('stop.eta.v1', i, { eta: t(40 + i) }));
    for (const e of etas) applyDispatchEvent(s, e, small);
    expect(s.seenEventIds).toHaveLength(8);
    expect(s.seenEventIds).toEqual(etas.slice(-8).map((e) => e.id));
    // A repeat of a recent event is still a duplicate; a repeat of an old one is stale by its sequence.
    expect(applyDispatchEvent(s, etas[29]!, small)).toBe('ignored');
    applyDispatchEvent(s, etas[0]!, small);
    expect(s.eta).toBe(t(69));
  });

  it('when a delay passes the severe threshold then the delay notice, ERP milestone and a case are queued once', () => {
    const s = published();
    applyDispatchEvent(s, ev('route.assigned.v1', 0), settings);
    applyDispatchEvent(s, ev('delivery.delayed.v1', 20), settings);
    applyDispatchEvent(s, ev('delivery.delayed.v1', 25), settings);
    expect(milestones(s)).toEqual(['planned', 'delayed']);
    expect(s.todo.filter((a) => a.kind === 'openCase')).toHaveLength(1);
  });

  it('when events of an attempt arrive before its task is recorded then they are held and applied in order once it is', () => {
    const s = initialState('shipment-80000001', sampleOrder());
    s.phase = 'validating';
    for (const e of [
      ev('delivery.completed.v1', 35),
      ev('route.assigned.v1', 0),
      ev('stop.started.v1', 10),
    ]) {
      expect(applyDispatchEvent(s, e, settings)).toBe('held');
    }
    expect(s.phase).toBe('validating');
    s.attempt = 1;
    s.taskIds[1] = 'task-1';
    s.phase = 'published';
    releaseHeldEvents(s, settings);
    expect(s.phase).toBe('delivered');
    expect(milestones(s)).toEqual(['planned', 'dispatched']);
    expect(s.pendingEvents).toEqual([]);
  });

  it('when dispatch unassigns a planned stop then the shipment waits for a new assignment and announces the new plan', () => {
    const s = published();
    applyDispatchEvent(s, ev('route.assigned.v1', 0), settings);
    expect(applyDispatchEvent(s, ev('route.unassigned.v1', 5), settings)).toBe('applied');
    expect(s.phase).toBe('published');
    expect(s.driverId).toBeUndefined();
    applyDispatchEvent(s, { ...ev('route.assigned.v1', 8), id: 'reassigned' }, settings);
    expect(s.phase).toBe('planned');
    const planned = s.todo.filter((a) => a.kind === 'milestone' && a.milestone === 'planned');
    expect(planned.map((a) => (a.kind === 'milestone' ? a.revision : -1))).toEqual([0, 1]);
  });

  it('when an unassignment older than the assignment arrives late then it changes nothing', () => {
    const s = published();
    applyDispatchEvent(s, ev('route.assigned.v1', 10), settings);
    expect(applyDispatchEvent(s, ev('route.unassigned.v1', 5), settings)).toBe('ignored');
    expect(s.phase).toBe('planned');
  });
});

describe('ETA drift in the reducer', () => {
  const run = (drift: boolean, etas: [number, number][]) => {
    const s = published();
    const options = { checkTask: true, etaDrift: drift };
    applyDispatchEvent(s, ev('route.assigned.v1', 0), settings, options);
    applyDispatchEvent(s, ev('stop.started.v1', 1), settings, options);
    for (const [minute, eta] of etas)
      applyDispatchEvent(s, ev('stop.eta.v1', minute, { eta: t(eta) }), settings, options);
    return s;
  };
  const planned = (s: ShipmentState) =>
    s.todo.flatMap((a) => (a.kind === 'milestone' && a.milestone === 'planned' ? [[a.eta, a.revision]] : []));
  const notices = (s: ShipmentState) => s.todo.flatMap((a) => (a.kind === 'notify' ? [a.topic] : []));
  // The window is 14:00-18:00 (t(0)-t(240)); the assignment announces t(30); the threshold is 30 minutes.
  const etas: [number, number][] = [
    [2, 70],
    [3, 75],
    [4, 80],
    [5, 40],
    [6, 65],
    [7, 250],
    [8, 260],
  ];

  it('when ETAs cross the threshold or the window end then one revised plan and notice per crossing, re-armed under it', () => {
    const s = run(true, etas);
    expect(planned(s)).toEqual([
      [t(30), 0],
      [t(70), 1],
      [t(65), 2],
      [t(250), 3],
    ]);
    expect(notices(s)).toEqual(['planned', 'eta-r1', 'eta-r2', 'eta-r3']);
    expect(s.plannedRevision).toBe(3);
  });

  it('when the driver would arrive before the window opens then the ETA counts as the window start', () => {
    // Plan t(30); an ETA 90 minutes before the window is served at t(0): 30 minutes, not past the threshold.
    expect(planned(run(true, [[2, -90]]))).toEqual([[t(30), 0]]);
  });

  it('when a run predates the patch then drifting ETAs change the state only', () => {
    const s = run(false, etas);
    expect(planned(s)).toEqual([[t(30), 0]]);
    expect(s.eta).toBe(t(260));
  });

  it('when a delay notice already told the customer then the drift it carries is not announced again', () => {
    const s = published();
    const options = { checkTask: true, etaDrift: true };
    applyDispatchEvent(s, ev('route.assigned.v1', 0), settings, options);
    applyDispatchEvent(s, ev('delivery.delayed.v1', 2), settings, options);
    applyDispatchEvent(s, ev('stop.eta.v1', 3, { eta: t(210) }), settings, options);
    expect(notices(s)).toEqual(['planned', 'delayed']);
    expect(planned(s)).toEqual([[t(30), 0]]);
  });
});
