import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WEBHOOK_TRIGGERS } from '../../sandbox/dispatch/index.js';
import { registerOperatorCommands } from '../../src/starters/operator.js';
import { dispatchEventSignal, type OperatorActionResult } from '../../src/workflows/shipment/contract.js';
import { erpBilling, erpMilestones } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';
import { as, call, P, post, startSecureGateway, type SecureGateway } from './support.js';

/**
 * Operator actions on a whole shipment (manual POD, cancel, force-return) through the gateway's API as
 * principals with roles, on the real ShipmentWorkflow and sandboxes, and the CLI's bulk dry run.
 */
let stack: Stack;
let gw: SecureGateway;

beforeAll(async () => {
  stack = await startStack();
  // The gateway completes tasks on the stack's dispatch, and dispatch's failure webhooks come back to it.
  gw = await startSecureGateway(stack.client, {
    SHIPSYNC_DISPATCH_URL: stack.dispatch.url,
    SHIPSYNC_DISPATCH_API_KEY: stack.dispatch.apiKey,
  });
  const hook = await fetch(`${stack.dispatch.url}/api/v2/webhooks`, {
    method: 'POST',
    headers: { authorization: basic(stack.dispatch.apiKey), 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${gw.url}/webhooks/dispatch`, trigger: WEBHOOK_TRIGGERS.taskFailed }),
  });
  if (!hook.ok) throw new Error(`webhook registration: ${hook.status} ${await hook.text()}`);
});

afterAll(async () => {
  await gw?.close();
  await stack?.close();
});

async function underway(types: ('route.assigned.v1' | 'stop.started.v1')[]) {
  const started = await stack.start();
  const { workflowId } = started;
  await stack.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
  const handle = stack.client.workflow.getHandle(workflowId);
  for (const type of types) await handle.signal(dispatchEventSignal, await stack.event(workflowId, type));
  await stack.waitFor(workflowId, (st) => st.phase !== 'published');
  return started;
}

const basic = (apiKey: string) => `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`;

const path = (workflowId: string, action: string) => `/v1/shipments/${workflowId}/${action}`;

class BadInput extends Error {}

/** Runs `shipsync <args>` with the operator commands against the test gateway. */
async function cli(token: string, ...args: string[]): Promise<{ out: string; error?: Error }> {
  const lines: string[] = [];
  const program = new Command('shipsync')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerOperatorCommands(program, { out: (t) => lines.push(t), usageError: (m) => new BadInput(m) });
  try {
    await program.parseAsync([...args, '--url', gw.url, '--token', token], { from: 'user' });
    return { out: lines.join('\n') };
  } catch (error) {
    return { out: lines.join('\n'), error: error as Error };
  }
}

describe('operator actions on a shipment through the API', () => {
  it('when a dispatcher cancels then an agent and finance are refused, a missing reason is a 400, and the cancel compensates with the reason audited', async () => {
    const { workflowId, order, handle } = await underway(['route.assigned.v1']);
    expect((await post(gw.url, path(workflowId, 'cancel'), P.agent, { reason: 'x' })).status).toBe(403);
    expect((await post(gw.url, path(workflowId, 'cancel'), P.financeA, { reason: 'x' })).status).toBe(403);
    expect((await post(gw.url, path(workflowId, 'cancel'), P.dispatcher, {})).status).toBe(400);
    const cancel = await post<OperatorActionResult>(gw.url, path(workflowId, 'cancel'), P.dispatcher, {
      reason: 'order withdrawn by the customer',
    });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ shipmentId: workflowId, outcome: 'cancelled' });
    expect((await handle.result()).outcome).toBe('cancelled');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toContain('CANCELLED#1');
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);
    const status = await call<{ outcome: string; phase: string }>(
      gw.url,
      'GET',
      `/v1/shipments/${workflowId}`,
      {
        headers: as(P.agent),
      },
    );
    expect(status.body).toMatchObject({ phase: 'closed', outcome: 'cancelled' });
    const audit = await gw.store.audit.list({ shipmentId: workflowId });
    expect(
      audit
        .filter((a) => a.action === 'shipment.cancel')
        .reverse()
        .map((a) => [a.principalId, a.statusCode, a.detail?.reason ?? null]),
    ).toEqual([
      [P.agent.id, 403, null],
      [P.financeA.id, 403, null],
      [P.dispatcher.id, 400, null],
      [P.dispatcher.id, 200, 'order withdrawn by the customer'],
    ]);
  });

  it('when finance records a proof of delivery then it is refused before the driver has the goods, and accepted once in transit', async () => {
    const early = await stack.start();
    await stack.waitFor(early.workflowId, (st) => st.phase === 'published' && !!st.taskId);
    const refused = await post(gw.url, path(early.workflowId, 'pod'), P.financeA, { evidence: 'call' });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'POD_NOT_EXPECTED' });
    expect((await post(gw.url, path(early.workflowId, 'pod'), P.admin, { evidence: 'call' })).status).toBe(
      403,
    );

    const { workflowId, handle } = await underway(['route.assigned.v1', 'stop.started.v1']);
    const pod = await post<OperatorActionResult>(gw.url, path(workflowId, 'pod'), P.financeA, {
      evidence: 'customer confirmed by phone, delivery note 4711',
    });
    expect(pod.status).toBe(200);
    expect(pod.body.outcome).toBe('delivered');
    expect((await handle.result()).outcome).toBe('delivered');
    const audit = await gw.store.audit.list({ shipmentId: workflowId });
    expect(audit.find((a) => a.action === 'shipment.manual_pod')).toMatchObject({
      principalId: P.financeA.id,
      statusCode: 200,
      detail: expect.objectContaining({ evidence: 'customer confirmed by phone, delivery note 4711' }),
    });
  });

  it('when an admin forces the goods back then the return is billed, and the CLI reports it', async () => {
    const { workflowId, order, handle } = await underway(['route.assigned.v1']);
    const bulk = await cli(
      P.dispatcher.token,
      'bulk',
      'cancel',
      '--query',
      'status=planned',
      '--dry-run',
      '--reason',
      'x',
    );
    expect(bulk.error).toBeUndefined();
    expect(bulk.out).toContain(workflowId);
    expect(bulk.out).toMatch(/would be acted on \(cancel, dry run\)/);
    const bad = await cli(P.dispatcher.token, 'bulk', 'cancel', '--query', 'color=red');
    expect(bad.error).toBeDefined();

    const ret = await cli(
      P.admin.token,
      'return',
      workflowId,
      '--reason',
      'customer refused before delivery',
    );
    expect(ret.error).toBeUndefined();
    expect(ret.out).toBe(`${workflowId} returned (returned)`);
    expect((await handle.result()).outcome).toBe('returned');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual(
      expect.arrayContaining(['RETURNED#1', 'BILLED#1']),
    );
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toHaveLength(1);
  });

  it("when a dispatcher completes a shipment's task by hand as failed then dispatch records a manager override, its webhook fails the attempt, and a closed shipment's is refused", async () => {
    const { workflowId, order } = await underway(['route.assigned.v1']);
    const { taskId } = await stack.waitFor(workflowId, (st) => !!st.taskId);
    const body = { success: false, notes: 'dock closed for inventory' };
    const complete = path(workflowId, 'dispatch/complete');
    expect((await post(gw.url, complete, P.agent, body)).status).toBe(403);
    expect((await post(gw.url, complete, P.dispatcher, { success: false })).status).toBe(400);
    const noOutcome = await cli(P.dispatcher.token, 'dispatch-complete', workflowId, '--notes', 'x');
    expect(noOutcome.error).toBeInstanceOf(BadInput);

    const forced = await cli(
      P.dispatcher.token,
      'dispatch-complete',
      workflowId,
      '--failed',
      '--notes',
      body.notes,
    );
    expect(forced.error).toBeUndefined();
    expect(forced.out).toBe(
      `${workflowId} task ${taskId} completed as failed (was planned); the shipment follows dispatch's webhook`,
    );
    const task = (await (
      await fetch(`${stack.dispatch.url}/api/v2/tasks/${taskId}`, {
        headers: { authorization: basic(stack.dispatch.apiKey) },
      })
    ).json()) as {
      state: number;
      completionDetails: { success: boolean; failureReason: string; notes: string };
    };
    expect(task).toMatchObject({
      state: 3,
      completionDetails: { success: false, failureReason: 'MANAGER_OVERRIDE', notes: body.notes },
    });
    // Dispatch's taskFailed webhook reaches the shipment through the gateway like a driver's.
    await stack.waitFor(workflowId, (st) => st.milestones.some((m) => m.milestone === 'failed_attempt'));
    await vi.waitFor(
      async () => expect(await erpMilestones(stack.erp.url, order.deliveryId)).toContain('FAILED_ATTEMPT#1'),
      { timeout: 30_000, interval: 200 },
    );

    // A cancelled shipment has no task under way: refused before dispatch is asked.
    const other = await underway(['route.assigned.v1']);
    const reason = { reason: 'order withdrawn' };
    expect((await post(gw.url, path(other.workflowId, 'cancel'), P.dispatcher, reason)).status).toBe(200);
    await other.handle.result();
    const closed = await post(gw.url, path(other.workflowId, 'dispatch/complete'), P.admin, body);
    expect(closed.status).toBe(409);
    expect(closed.body).toMatchObject({ code: 'TASK_NOT_UNDER_WAY' });
    const audit = await gw.store.audit.list({ shipmentId: workflowId });
    expect(
      audit
        .filter((a) => a.action === 'dispatch.force_complete')
        .reverse()
        .map((a) => [a.principalId, a.statusCode, a.detail?.taskId ?? null]),
    ).toEqual([
      [P.agent.id, 403, null],
      [P.dispatcher.id, 400, null],
      [P.dispatcher.id, 200, taskId],
    ]);
    const refused = await gw.store.audit.list({ shipmentId: other.workflowId });
    expect(refused.find((a) => a.action === 'dispatch.force_complete')).toMatchObject({
      principalId: P.admin.id,
      statusCode: 409,
    });
  });
});
