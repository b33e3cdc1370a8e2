import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Mismatch } from '../../../src/domain/reconciliation.js';
import { BACKENDS, type TestDatabase } from './backends.js';

const missing: Mismatch = {
  kind: 'erp_milestone_missing',
  shipmentId: 'shipment-80000001',
  systems: ['erp', 'shipsync'],
  detail: 'the workflow posted DELIVERED (attempt 1) but the ERP does not hold it',
  suggestedRepair: 'post the milestone again',
  repair: {
    kind: 'post_milestone',
    deliveryId: '80000001',
    milestone: 'delivered',
    attempt: 1,
    occurredAt: '2026-12-01T10:00:00Z',
  },
  status: 'suggested',
};
const stale: Mismatch = {
  kind: 'dispatch_outcome',
  shipmentId: 'shipment-80000002',
  systems: ['dispatch', 'shipsync'],
  detail: 'no successful task',
  suggestedRepair: 'check with dispatch',
  status: 'operator',
};

describe.each(BACKENDS)('reconciliation reports on $name', ({ open }) => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('when a run writes its pages, repairs and totals then the report reads back whole, and a retried page writes nothing twice', async () => {
    const reports = t.store.reconciliation;
    await reports.begin({
      id: 'reconcile-a',
      date: '2026-12-01',
      region: 'CHI',
      repair: true,
      startedAt: '2026-12-02T02:30:00Z',
    });
    await reports.begin({
      id: 'reconcile-a',
      date: '2026-12-01',
      region: 'CHI',
      repair: true,
      startedAt: '2026-12-02T02:30:00Z',
    });
    const page = [
      { seq: 0, mismatch: missing },
      { seq: 1, mismatch: stale },
    ];
    await reports.addMismatches('reconcile-a', page);
    await reports.addMismatches('reconcile-a', page);
    await reports.setStatuses('reconcile-a', [{ seq: 0, status: 'repaired' }]);
    await reports.finish('reconcile-a', { checked: 2, inFlight: 0, finishedAt: '2026-12-02T02:31:00Z' });
    await reports.begin({
      id: 'reconcile-b',
      date: '2026-12-02',
      repair: false,
      startedAt: '2026-12-03T02:30:00Z',
    });

    expect(await reports.get('reconcile-a')).toEqual({
      id: 'reconcile-a',
      date: '2026-12-01',
      region: 'CHI',
      repair: true,
      status: 'completed',
      startedAt: '2026-12-02T02:30:00Z',
      finishedAt: '2026-12-02T02:31:00Z',
      checked: 2,
      inFlight: 0,
      mismatches: [{ ...missing, status: 'repaired' }, stale],
    });
    expect(await reports.get('reconcile-nope')).toBeUndefined();
    const listed = await reports.list();
    expect(listed.map((r) => [r.id, r.status])).toEqual([
      ['reconcile-b', 'running'],
      ['reconcile-a', 'completed'],
    ]);
    expect(listed[1]?.counts).toEqual({ suggested: 0, repaired: 1, repair_failed: 0, operator: 1, total: 2 });
    expect((await reports.list({ date: '2026-12-01', region: 'CHI' })).map((r) => r.id)).toEqual([
      'reconcile-a',
    ]);
  });
});
