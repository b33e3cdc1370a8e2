import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REAL_CLOCK } from '../../../src/domain/clock.js';
import type { CanonicalEvent } from '../../../src/domain/events.js';
import { kpisOfDays } from '../../../src/gateway/kpi-service.js';
import { GatewayMetrics } from '../../../src/gateway/metrics.js';
import { OdsProjector, type OdsProjectorDeps } from '../../../src/gateway/ods.js';
import type { ShipmentStatus } from '../../../src/workflows/shipment/contract.js';
import { quietLogger } from '../../gateway/support.js';
import { BACKENDS, type TestDatabase } from '../storage/backends.js';

const ID = 'shipment-80000001';
const W = { start: '2026-12-01T09:00:00.000Z', end: '2026-12-01T11:00:00.000Z' };

function status(over: Partial<ShipmentStatus> = {}): ShipmentStatus {
  return {
    shipmentId: ID,
    deliveryId: '80000001',
    customerId: 'C1001',
    region: 'CHI',
    phase: 'planned',
    window: W,
    eta: '2026-12-01T09:40:00.000Z',
    taskId: 'tsk-1',
    driverId: 'drv-1',
    routeId: 'route-1',
    attempts: 1,
    openCases: [],
    closedCases: 0,
    charges: [],
    awaitingApproval: false,
    milestones: [{ milestone: 'planned', attempt: 1, at: '2026-12-01T06:05:00.000Z' }],
    eventsApplied: 1,
    eventsIgnored: 0,
    ignoredEvents: [],
    ...over,
  };
}

function event(id: string, type: string, time: string, data: Record<string, unknown>): CanonicalEvent {
  return {
    specversion: '1.0',
    id,
    source: 'test',
    subject: ID,
    type,
    time,
    datacontenttype: 'application/json',
    correlationid: ID,
    data: { taskId: 'tsk-1', attempt: 1, ...data },
  } as CanonicalEvent;
}

describe.each(BACKENDS)('the ODS read model on $name', ({ open }) => {
  let t: TestDatabase;
  let ods: OdsProjector;
  /** A projector on this test's store without a sweep; `over` replaces its client, adds vendors. */
  const projector = (over: Partial<OdsProjectorDeps> = {}) =>
    new OdsProjector({
      client: {} as Client,
      store: t.store,
      logger: quietLogger,
      clock: REAL_CLOCK,
      taskQueuePrefix: '',
      sweepMs: 0,
      ...over,
    });
  beforeEach(async () => {
    t = await open();
    ods = projector();
  });
  afterEach(async () => {
    await ods.stop();
    await t.dispose();
  });

  it('when the same dispatch events arrive twice then the stop holds each once, with the ETA before arrival', async () => {
    await ods.project(status(), 'RUNNING');
    const events = [
      event('e1', 'route.assigned.v1', '2026-12-01T06:05:00.000Z', {
        driverId: 'drv-1',
        eta: '2026-12-01T09:30:00.000Z',
      }),
      event('e2', 'stop.eta.v1', '2026-12-01T09:00:00.000Z', {
        eta: '2026-12-01T09:45:00.000Z',
        driftSeconds: 900,
      }),
      event('e3', 'stop.arrived.v1', '2026-12-01T09:50:00.000Z', { arrivedAt: '2026-12-01T09:50:00.000Z' }),
      event('e4', 'stop.eta.v1', '2026-12-01T09:55:00.000Z', {
        eta: '2026-12-01T10:30:00.000Z',
        driftSeconds: 0,
      }),
    ];
    // The forwarder delivers one shipment's events in order; a redelivery repeats them.
    const first: boolean[] = [];
    for (const e of events) first.push(await ods.applyEvent(e, ID));
    const again: boolean[] = [];
    for (const e of events) again.push(await ods.applyEvent(e, ID));
    expect(first).toEqual([true, true, true, true]);
    expect(again).toEqual([false, false, false, false]);
    const [stop] = await t.store.ods.stops({ shipmentId: ID });
    expect(stop).toMatchObject({
      attempt: 1,
      firstEta: '2026-12-01T09:30:00.000Z',
      plannedEta: '2026-12-01T09:45:00.000Z',
      arrivedAt: '2026-12-01T09:50:00.000Z',
      windowStart: W.start,
      windowEnd: W.end,
    });
    const [kpis] = await kpisOfDays(t.store, ['2026-12-01']);
    expect(kpis?.all.onTime).toEqual({ numerator: 1, denominator: 1, rate: 1 });
    expect(kpis?.all.etaErrorMinutes.p50).toBe(5);
  });

  it('when a status is projected twice then milestones are on the timeline once and cases open and resolve', async () => {
    await ods.project(status({ openCases: [{ caseId: '17', kind: 'delay' }] }), 'RUNNING');
    await ods.project(status({ openCases: [{ caseId: '17', kind: 'delay' }] }), 'RUNNING');
    expect(await t.store.ods.cases({ open: true })).toHaveLength(1);
    await ods.project(
      status({
        phase: 'closed',
        openCases: [],
        billingDocumentId: '90000001',
        outcome: 'delivered',
        milestones: [
          { milestone: 'planned', attempt: 1, at: '2026-12-01T06:05:00.000Z' },
          { milestone: 'delivered', attempt: 1, at: '2026-12-01T09:55:00.000Z' },
          { milestone: 'billed', attempt: 1, at: '2026-12-01T10:25:00.000Z' },
        ],
      }),
      'COMPLETED',
    );
    const cases = await t.store.ods.cases({ shipmentId: ID });
    expect(cases).toHaveLength(1);
    expect(cases[0]?.resolvedAt).not.toBeNull();
    const timeline = await t.store.ods.events(ID);
    expect(timeline.filter((e) => e.type === 'milestone.planned')).toHaveLength(1);
    expect(timeline.map((e) => e.type)).toEqual(
      expect.arrayContaining(['milestone.delivered', 'milestone.billed', 'case.opened', 'case.resolved']),
    );
    const row = await t.store.ods.shipment(ID);
    expect(row).toMatchObject({
      phase: 'closed',
      workflowStatus: 'COMPLETED',
      deliveredAt: '2026-12-01T09:55:00.000Z',
      billedAt: '2026-12-01T10:25:00.000Z',
      day: '2026-12-01',
    });
    const [kpis] = await kpisOfDays(t.store, ['2026-12-01']);
    expect(kpis?.all.invoiceCycleMinutes.p50).toBe(30);
    expect(kpis?.all.firstAttempt.rate).toBe(1);
  });

  it('when a run ends then the CRM times of the cases it names are read by id, and an older run without ids has its tickets listed', async () => {
    const asked: (readonly string[] | undefined)[] = [];
    const withVendors = projector({
      vendors: {
        tasksOfShipment: async () => [],
        caseTicketsOf: async (_id, known) => {
          asked.push(known);
          return [
            {
              caseId: '17',
              kind: 'delay',
              status: 'solved',
              openedAt: '2026-12-01T08:00:00.000Z',
              resolvedAt: '2026-12-01T09:30:00.000Z',
            },
          ];
        },
      },
    });
    try {
      const ended = status({ phase: 'closed', closedCases: 1, caseIds: ['17'], outcome: 'delivered' });
      await withVendors.project(ended, 'COMPLETED');
      expect(asked).toEqual([['17']]);
      const cases = await t.store.ods.cases({ shipmentId: ID });
      expect(cases.map((c) => [c.caseId, c.openedAt, c.resolvedAt])).toEqual([
        ['17', '2026-12-01T08:00:00.000Z', '2026-12-01T09:30:00.000Z'],
      ]);
      const other = 'shipment-80000002';
      const { caseIds: _none, ...older } = { ...ended, shipmentId: other, deliveryId: '80000002' };
      await withVendors.project(older, 'COMPLETED');
      expect(asked).toEqual([['17'], undefined]);
    } finally {
      await withVendors.stop();
    }
  });

  it('when events and an operator ask for projections then the status queries are counted by what asked, and exposed to Prometheus', async () => {
    const client = {
      withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
      workflow: { getHandle: () => ({ query: async () => status() }) },
    } as unknown as Client;
    const counted = projector({ client });
    const metrics = new GatewayMetrics();
    metrics.odsQueriesFrom(counted.stats.queries);
    try {
      await counted.onDelivered(
        event('q1', 'stop.eta.v1', '2026-12-01T08:00:00.000Z', { eta: '2026-12-01T09:40:00.000Z' }),
      );
      await counted.idle();
      counted.schedule(ID);
      await counted.idle();
      expect(counted.stats.queries).toMatchObject({ event: 1, api: 1, sweep: 0, watch: 0 });
      const text = await metrics.registry.metrics();
      expect(text).toContain('shipsync_ods_status_queries{trigger="event"} 1');
      expect(text).toContain('shipsync_ods_status_queries{trigger="api"} 1');
    } finally {
      await counted.stop();
    }
  });

  it('when visibility trails the phase an event already projected then the sweep asks once per phase it shows', async () => {
    // What the workflow answers and what visibility's ShipmentStatus shows, moved by the test.
    let truth: ShipmentStatus['phase'] = 'planned';
    let visible = 'planned';
    let failNext = false;
    const client = {
      withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
      options: { namespace: 'default' },
      // Visibility's raw page, as the server sends it: the search attributes as JSON payloads.
      workflowService: {
        listWorkflowExecutions: async () => ({
          executions: [
            {
              execution: { workflowId: ID },
              status: 1, // RUNNING
              searchAttributes: {
                indexedFields: { ShipmentStatus: defaultPayloadConverter.toPayload(visible) },
              },
            },
          ],
          nextPageToken: new Uint8Array(),
        }),
      },
      workflow: {
        getHandle: () => ({
          query: async () => {
            if (failNext) {
              failNext = false;
              throw new Error('no poller answered the query');
            }
            return status({ phase: truth });
          },
        }),
      },
    } as unknown as Client;
    const swept = projector({ client });
    const asked = () => swept.stats.queries.sweep;
    try {
      await swept.sweep(); // first pass: the shipment is new to the read model
      expect(asked()).toBe(1);
      // A driver's event: its projection writes in_transit while the search attribute still says planned.
      truth = 'in_transit';
      await swept.onDelivered(
        event('s1', 'stop.started.v1', '2026-12-01T08:00:00.000Z', { startedAt: '2026-12-01T08:00:00.000Z' }),
      );
      await swept.idle();
      expect((await t.store.ods.shipment(ID))?.phase).toBe('in_transit');
      await swept.sweep();
      await swept.sweep();
      expect(asked()).toBe(1);
      // A phase no webhook announces shows in visibility first: asked once, and not again while it stays.
      truth = 'billing';
      visible = 'billing';
      failNext = true;
      await swept.sweep();
      expect(asked()).toBe(2);
      expect((await t.store.ods.shipment(ID))?.phase).toBe('in_transit');
      await swept.sweep(); // the failed projection is tried again
      expect(asked()).toBe(3);
      expect((await t.store.ods.shipment(ID))?.phase).toBe('billing');
      await swept.sweep();
      expect(asked()).toBe(3);
      // A difference that outlives visibility's moves (an older write over a newer one) is asked every tenth pass.
      await t.store.ods.upsertShipment({ ...(await t.store.ods.shipment(ID))!, phase: 'planned' });
      for (let pass = 6; pass < 10; pass++) await swept.sweep();
      expect(asked()).toBe(3);
      await swept.sweep();
      expect(asked()).toBe(4);
      expect((await t.store.ods.shipment(ID))?.phase).toBe('billing');
    } finally {
      await swept.stop();
    }
  });

  it('when a shipment awaits approval then it is invoice-ready until it is billed', async () => {
    const charges = [
      {
        code: 'BASE' as const,
        description: '',
        quantity: 1,
        unitPrice: 80,
        amount: 80,
        currency: 'USD' as const,
      },
      {
        code: 'LIFTGATE' as const,
        description: '',
        quantity: 1,
        unitPrice: 75,
        amount: 75,
        currency: 'USD' as const,
      },
    ];
    await ods.project(status({ phase: 'awaiting_approval', awaitingApproval: true, charges }), 'RUNNING');
    expect((await t.store.ods.invoiceReady()).map((s) => s.shipmentId)).toEqual([ID]);
    expect((await t.store.ods.shipment(ID))?.chargesTotal).toBe(155);
    await ods.project(status({ phase: 'closed', charges, billingDocumentId: '9001' }), 'COMPLETED');
    expect(await t.store.ods.invoiceReady()).toEqual([]);
  });
});
