import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mismatch } from '../../src/domain/reconciliation.js';
import { createCrmAdapter } from '../../src/integrations/crm/adapter.js';
import { createGateway, type Gateway } from '../../src/gateway/app.js';
import { loadConfig } from '../../src/platform/config.js';
import type { ReconciliationResult } from '../../src/workflows/reconciliation/contract.js';
import { dispatchEventSignal, retryParkedUpdate } from '../../src/workflows/shipment/contract.js';
import type { Config } from '../../src/platform/config.js';
import { awaitReconciliation, startReconciliation } from '../../src/platform/reconciliation.js';
import { quietLogger } from '../gateway/support.js';
import { erpMilestones, setErpRules } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';
import { temporalAddress } from '../support/temporal.js';

const run = promisify(execFile);
const DAY = '2026-12-01';
let stack: Stack;
let gateway: Gateway;
let gatewayUrl: string;
let delivered: { deliveryId: string; workflowId: string };

/** The CLI as an operator runs it, sharing the worker's store (SHIPSYNC_DATA_DIR) and task queues. */
async function shipsync(...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/starters/cli.ts', ...args],
      {
        env: {
          ...process.env,
          SHIPSYNC_ENV: 'sandbox',
          SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress(),
          SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix,
          SHIPSYNC_DATA_DIR: stack.dataDir,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function reconcile(
  ...extra: string[]
): Promise<{ code: number; result: ReconciliationResult; stderr: string }> {
  const res = await shipsync('--json', 'reconcile', '--date', DAY, ...extra);
  if (res.code !== 0 && res.code !== 1) throw new Error(`reconcile exited ${res.code}: ${res.stderr}`);
  return { code: res.code, result: JSON.parse(res.stdout) as ReconciliationResult, stderr: res.stderr };
}

async function get(path: string, token: string) {
  const res = await fetch(`${gatewayUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  stack = await startStack();
  gateway = await createGateway({
    config: loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_LOG_LEVEL: 'silent' }),
    client: stack.client,
    store: stack.store,
    logger: quietLogger,
    defaultMetrics: false,
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  gatewayUrl = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`;
  const { order, workflowId, handle } = await stack.start({ plannedDate: DAY });
  await stack.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
  for (const type of [
    'route.assigned.v1',
    'stop.started.v1',
    'stop.arrived.v1',
    'delivery.completed.v1',
  ] as const)
    await handle.signal(dispatchEventSignal, await stack.event(workflowId, type));
  expect((await handle.result()).outcome).toBe('delivered');
  delivered = { deliveryId: order.deliveryId, workflowId };
});

afterAll(async () => {
  await gateway?.close();
  await stack?.close();
});

describe('shipsync reconcile against the running sandboxes', () => {
  it('when the driver events reached the shipment but never dispatch then reconcile reports it for an operator', async () => {
    // The test played the driver straight into the workflow, so dispatch still holds the task unstarted.
    const { code, result, stderr } = await reconcile();
    expect(stderr).toMatch(/reconciliation .* started/);
    expect(code).toBe(1);
    expect(result).toMatchObject({ date: DAY, checked: 1, inFlight: 0, counts: { total: 1, operator: 1 } });
    expect(result.mismatches).toEqual([
      expect.objectContaining<Partial<Mismatch>>({
        kind: 'dispatch_outcome',
        shipmentId: delivered.workflowId,
        systems: ['dispatch', 'shipsync'],
        status: 'operator',
      }),
    ]);
  });

  it('when a milestone is deleted in the ERP then reconcile reports it, --repair posts it again once, and the next run finds only what needs an operator', async () => {
    const deleted = await fetch(
      `${stack.erp.url}/__sandbox/deliveries/${delivered.deliveryId}/milestones?milestone=DELIVERED&attempt=1`,
      { method: 'DELETE' },
    );
    expect(await deleted.json()).toMatchObject({ deleted: 1 });
    expect(await erpMilestones(stack.erp.url, delivered.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'BILLED#1',
    ]);

    const found = await reconcile();
    expect(found.code).toBe(1);
    expect(found.result.counts).toMatchObject({ total: 2, suggested: 1, operator: 1, repaired: 0 });
    expect(found.result.mismatches).toContainEqual(
      expect.objectContaining<Partial<Mismatch>>({
        kind: 'erp_milestone_missing',
        shipmentId: delivered.workflowId,
        systems: ['erp', 'shipsync'],
        status: 'suggested',
        detail: expect.stringContaining('DELIVERED (attempt 1)'),
      }),
    );
    // Reporting alone changes nothing in the ERP.
    expect(await erpMilestones(stack.erp.url, delivered.deliveryId)).toHaveLength(3);

    const repaired = await reconcile('--repair');
    expect(repaired.code).toBe(1);
    expect(repaired.result.counts).toMatchObject({ total: 2, repaired: 1, operator: 1 });
    expect((await erpMilestones(stack.erp.url, delivered.deliveryId)).sort()).toEqual(
      ['BILLED#1', 'DELIVERED#1', 'DISPATCHED#1', 'PLANNED#1'].sort(),
    );

    const after = await reconcile();
    expect(after.result.counts).toMatchObject({ total: 1, operator: 1, suggested: 0 });
    expect(after.result.mismatches.map((m) => m.kind)).toEqual(['dispatch_outcome']);

    // An auditor reads every run's report from the gateway; the repaired one shows what was done.
    const list = await get(`/v1/reconciliation/reports?date=${DAY}`, 'dev-auditor');
    expect(list.status).toBe(200);
    const reports = list.body.reports as { id: string; status: string; counts: Record<string, number> }[];
    expect(reports.map((r) => r.id)).toEqual(
      expect.arrayContaining([found.result.reportId, repaired.result.reportId, after.result.reportId]),
    );
    expect(reports.every((r) => r.status === 'completed')).toBe(true);
    const one = await get(`/v1/reconciliation/reports/${repaired.result.reportId}`, 'dev-auditor');
    expect(one.status).toBe(200);
    expect(one.body.mismatches).toContainEqual(
      expect.objectContaining({ kind: 'erp_milestone_missing', status: 'repaired' }),
    );
    expect((await get(`/v1/reconciliation/reports/${repaired.result.reportId}`, 'dev-agent')).status).toBe(
      403,
    );
    const missing = await get('/v1/reconciliation/reports/reconcile-nope', 'dev-admin');
    expect(missing).toMatchObject({ status: 404, body: { code: 'RECONCILIATION_REPORT_NOT_FOUND' } });

    // The same reports from the CLI, through the gateway with an auditor's token.
    const listed = await shipsync(
      '--json',
      'reconciliation',
      'list',
      '--date',
      DAY,
      '--url',
      gatewayUrl,
      '--token',
      'dev-auditor',
    );
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { reports: { id: string }[] }).reports.map((r) => r.id)).toEqual(
      expect.arrayContaining([found.result.reportId, repaired.result.reportId, after.result.reportId]),
    );
    const shown = await shipsync(
      'reconciliation',
      'show',
      repaired.result.reportId,
      '--url',
      gatewayUrl,
      '--token',
      'dev-auditor',
    );
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${delivered.workflowId}  erp_milestone_missing [erp, shipsync]`);
    expect(shown.stdout).toMatch(/repaired: post the milestone again/);
  });

  it.each([
    [
      'a date that is not a calendar day',
      ['reconcile', '--date', '2026-02-30'],
      /--date must be a calendar date/,
    ],
    ['no date', ['reconcile'], /--date is required/],
    ['a bad region', ['reconcile', '--date', DAY, '--region', 'chicago'], /--region must be a region code/],
    ['a schedule with a date', ['reconcile', '--schedule', '--date', DAY], /--schedule takes no --date/],
  ])('when given %s then it exits 2 with one line', async (_label, args, message) => {
    const res = await shipsync(...args);
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it('when asked for the nightly schedule then it is created, and asked again it is updated in place', async () => {
    const first = await shipsync('--json', 'reconcile', '--schedule');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      scheduleId: `${stack.prefix}reconciliation-nightly`,
      cron: '30 2 * * *',
    });
    const second = await shipsync('--json', 'reconcile', '--schedule', '--cron', '15 4 * * *');
    expect(second.code).toBe(0);
    const described = await stack.client.schedule
      .getHandle(`${stack.prefix}reconciliation-nightly`)
      .describe();
    expect(described.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 4, end: 4, step: 1 }] });
    await stack.client.schedule.getHandle(`${stack.prefix}reconciliation-nightly`).delete();
  });
});

describe('reconciliation and parked work', () => {
  let own: Stack | undefined;
  afterAll(async () => {
    await own?.close();
  });

  it('when the ERP refuses a milestone for good then every run reports the parked item until an operator retries it; a case left open after closing is solved by --repair', async () => {
    own = await startStack();
    await setErpRules(own.erp.url, { rejectMilestoneCodes: ['DISPATCHED'] });
    const { workflowId, handle } = await own.start({ plannedDate: DAY });
    await own.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
    for (const type of ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'] as const)
      await handle.signal(dispatchEventSignal, await own.event(workflowId, type));
    await own.waitFor(workflowId, (s) => !!s.billingDocumentId && !!s.parked?.length);

    const config = { SHIPSYNC_TASK_QUEUE_PREFIX: own.prefix } as Config;
    const run = async (repair = false) =>
      awaitReconciliation(
        await startReconciliation(own!.client, config, { date: DAY, repair }),
        () => undefined,
      );
    const before = await run(true);
    expect(before).toMatchObject({ checked: 1, inFlight: 1, counts: { total: 1, operator: 1 } });
    expect(before.mismatches).toEqual([
      expect.objectContaining<Partial<Mismatch>>({
        kind: 'parked_side_effect',
        shipmentId: workflowId,
        systems: ['erp', 'shipsync'],
        status: 'operator',
        detail: expect.stringContaining('ERP_BUSINESS_REJECTED'),
        suggestedRepair: expect.stringContaining(`shipsync parked retry ${workflowId} p1`),
      }),
    ]);

    await setErpRules(own.erp.url, { rejectMilestoneCodes: [] });
    await handle.executeUpdate(retryParkedUpdate, { args: [{ parkedId: 'p1', by: 'disp-1' }] });
    expect((await handle.result()).outcome).toBe('delivered');
    const after = await run();
    expect(after.inFlight).toBe(0);
    expect(after.mismatches.map((m) => m.kind)).not.toContain('parked_side_effect');

    // An agent opens a case on the closed shipment by hand and leaves it open: --repair solves it.
    const crm = createCrmAdapter({ baseUrl: own.crm.url });
    const { caseId } = await crm.openCase({
      shipmentId: workflowId,
      deliveryId: workflowId.replace('shipment-', ''),
      customerId: '10100001',
      kind: 'delay',
      subject: 'Customer called about the delivery',
      description: 'Asked where the parcel is',
      priority: 'normal',
      idempotencyKey: `${workflowId}:agent-case`,
    });
    const repaired = await run(true);
    expect(repaired.mismatches).toContainEqual(
      expect.objectContaining<Partial<Mismatch>>({
        kind: 'crm_case_open',
        systems: ['crm', 'shipsync'],
        status: 'repaired',
        repair: { kind: 'close_case', caseId },
      }),
    );
    expect((await crm.listCases(workflowId)).find((c) => c.caseId === caseId)?.status).toBe('solved');
    expect((await run()).mismatches.map((m) => m.kind)).not.toContain('crm_case_open');
  });
});
