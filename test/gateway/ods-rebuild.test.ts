import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DispatchEvent, DispatchEventType } from '../../src/domain/events.js';
import { SIM_START, startStack, type Stack } from '../support/stack.js';
import { as, call, P, post, startSecureGateway, type SecureGateway } from '../security/support.js';

/**
 * The operational data store rebuilt from scratch on a real gateway, real workers, a real Temporal server
 * and the sandboxes: Temporal visibility and status queries, the inbox, and the vendors' public APIs
 * (dispatch's tasks, the CRM's case tickets) give back the same KPIs.
 */
let stack: Stack;
let gw: SecureGateway;

interface Today {
  total: number;
  openExceptions: number;
  counts: { region: string; phase: string; n: number }[];
  kpis: {
    all: {
      shipments: number;
      onTime: unknown;
      etaErrorMinutes: unknown;
      firstAttempt: unknown;
      invoiceCycleMinutes: unknown;
      routeAcceptanceMinutes: { count: number };
      exceptions: { kind: string; opened: number; open: number }[];
    };
  };
}

async function viaGateway(event: DispatchEvent) {
  await gw.store.inbox.insert({
    eventId: event.id,
    source: 'dispatch',
    type: event.type,
    shipmentId: event.subject,
    payload: event,
    headers: {},
    receivedAt: new Date().toISOString(),
  });
  gw.gateway.forwarder.notify();
  await expect
    .poll(async () => (await gw.store.inbox.get(event.id))?.status, { timeout: 20_000 })
    .toBe('delivered');
}

async function play(
  workflowId: string,
  types: DispatchEventType[],
  data: Partial<Record<DispatchEventType, Record<string, unknown>>> = {},
) {
  for (const type of types) {
    const at =
      type === 'stop.arrived.v1' || type === 'delivery.completed.v1' ? SIM_START + 120 * 60_000 : undefined;
    await viaGateway(await stack.event(workflowId, type, data[type] ?? {}, at));
  }
}

const today = async () => {
  const day = new Date(SIM_START).toISOString().slice(0, 10);
  const r = await call<Today>(gw.url, 'GET', `/v1/ops/today?day=${day}&trendDays=1`, {
    headers: as(P.admin),
  });
  expect(r.status).toBe(200);
  return r.body;
};

/** The figures a rebuild must give back (the route acceptance time takes dispatch's own publication time). */
const figures = (t: Today) => {
  const { routeAcceptanceMinutes, ...rest } = t.kpis.all;
  return {
    total: t.total,
    openExceptions: t.openExceptions,
    counts: [...t.counts].sort((a, b) => `${a.region}${a.phase}`.localeCompare(`${b.region}${b.phase}`)),
    ...rest,
    accepted: routeAcceptanceMinutes.count,
  };
};

describe('rebuilding the operational data store', () => {
  beforeAll(async () => {
    stack = await startStack();
    gw = await startSecureGateway(stack.client, {
      SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix,
      SHIPSYNC_TIME_SCALE: String(stack.clock.scale),
      SHIPSYNC_CLOCK_ANCHOR_REAL_MS: String(stack.clock.anchorRealMs),
      SHIPSYNC_CLOCK_ANCHOR_SIM: new Date(SIM_START).toISOString(),
      SHIPSYNC_ODS_SWEEP_SECONDS: '0.5',
      // The ODS reads the shipments' tasks and case tickets from these sandboxes' public APIs.
      SHIPSYNC_DISPATCH_URL: stack.dispatch.url,
      SHIPSYNC_DISPATCH_API_KEY: stack.dispatch.apiKey,
      SHIPSYNC_CRM_URL: stack.crm.url,
    });
    gw.gateway.ods.start();
  });

  afterAll(async () => {
    await gw?.close();
    await stack?.close();
  });

  it('when the ODS is emptied and rebuilt from Temporal, the inbox and the vendors then the KPIs are the same', async () => {
    const a = await stack.start();
    const b = await stack.start();
    for (const s of [a, b]) await stack.waitFor(s.workflowId, (x) => x.phase === 'published' && !!x.taskId);
    await play(a.workflowId, [
      'route.assigned.v1',
      'stop.started.v1',
      'stop.arrived.v1',
      'delivery.completed.v1',
    ]);
    // The other one runs three hours late: the workflow opens a delay case in the CRM.
    await play(b.workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.delayed.v1'], {
      'delivery.delayed.v1': { delaySeconds: 3 * 3600 },
    });
    await stack.waitFor(b.workflowId, (s) => s.openCases.some((c) => c.kind === 'delay'));
    await expect
      .poll(async () => (await today()).openExceptions, { timeout: 20_000 })
      .toBeGreaterThanOrEqual(1);
    // Then it arrives and is delivered too: its case is solved, both are billed and their runs end.
    await play(b.workflowId, ['stop.arrived.v1', 'delivery.completed.v1']);
    for (const s of [a, b]) await stack.waitFor(s.workflowId, (x) => x.phase === 'closed');
    // The ODS has seen both runs end (and read their records at the vendors then).
    await expect
      .poll(
        async () => {
          const r = await call<{ shipments: { workflowStatus: string }[] }>(
            gw.url,
            'GET',
            '/v1/ops/shipments',
            {
              headers: as(P.admin),
            },
          );
          return r.body.shipments.filter((x) => x.workflowStatus !== 'RUNNING').length;
        },
        { timeout: 30_000 },
      )
      .toBe(2);
    const before = figures(await today());
    expect(before.exceptions).toContainEqual(expect.objectContaining({ kind: 'delay', opened: 1, open: 0 }));
    expect(before.openExceptions).toBe(0);

    const rebuilt = await post(gw.url, '/v1/ops/ods/rebuild', P.admin, {});
    expect(rebuilt.status).toBe(200);
    const tickets = (
      (await (await fetch(`${stack.crm.url}/__sandbox/cases`)).json()) as {
        cases: { externalId: string }[];
      }
    ).cases.filter((c) => [a.workflowId, b.workflowId].includes(c.externalId));
    expect(rebuilt.body).toMatchObject({ shipments: 2, projected: 2, cases: tickets.length });
    expect((rebuilt.body as { tasks: number }).tasks).toBeGreaterThanOrEqual(2);
    expect(figures(await today())).toEqual(before);

    // The delay case carries the CRM's own opening time (its ticket's creation, on the simulated clock).
    const detail = await call<{ cases: { kind: string; openedAt: string }[]; events: { type: string }[] }>(
      gw.url,
      'GET',
      `/v1/ops/shipments/${b.workflowId}`,
      { headers: as(P.admin) },
    );
    expect(detail.body.cases.map((c) => c.kind)).toEqual(['delay']);
    expect(detail.body.events.map((e) => e.type)).toContain('dispatch.task');
  });
});
