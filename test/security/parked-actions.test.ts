import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerParkedCommands } from '../../src/starters/parked.js';
import { dispatchEventSignal, type ParkedOutcome } from '../../src/workflows/shipment/contract.js';
import { erpBilling, erpMilestones, setErpRules } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';
import { call, as, P, post, startSecureGateway, type SecureGateway } from './support.js';

/**
 * Operator actions on parked side effects through the gateway's API, as principals with roles, on the real
 * ShipmentWorkflow and the ERP sandbox's business rules.
 */
let stack: Stack;
let gw: SecureGateway;

beforeAll(async () => {
  stack = await startStack();
  gw = await startSecureGateway(stack.client);
});

afterAll(async () => {
  await gw?.close();
  await stack?.close();
});

async function delivered() {
  const started = await stack.start();
  const { workflowId } = started;
  await stack.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
  const handle = stack.client.workflow.getHandle(workflowId);
  for (const type of ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'] as const)
    await handle.signal(dispatchEventSignal, await stack.event(workflowId, type));
  return started;
}

class BadInput extends Error {}

/** Runs `shipsync parked <args>` against the test gateway as a principal; returns what it printed. */
async function cli(who: { token: string }, ...args: string[]): Promise<{ out: string; error?: Error }> {
  const lines: string[] = [];
  const program = new Command('shipsync')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerParkedCommands(program, { out: (t) => lines.push(t), usageError: (m) => new BadInput(m) });
  try {
    await program.parseAsync(['parked', '--url', gw.url, '--token', who.token, ...args], { from: 'user' });
    return { out: lines.join('\n') };
  } catch (error) {
    return { out: lines.join('\n'), error: error as Error };
  }
}

const path = (workflowId: string, action: string) => `/v1/shipments/${workflowId}/parked/${action}`;

describe('parked side effects through the API', () => {
  it('when the billing post is parked then an agent may not skip it, an edit is refused, and finance skips it with the reason audited', async () => {
    await setErpRules(stack.erp.url, { billingBlockReason: 'customer on credit hold' });
    const { workflowId, order, handle } = await delivered();
    await stack.waitFor(workflowId, (st) => !!st.parked?.length);
    await setErpRules(stack.erp.url, { billingBlockReason: null });

    const status = await call<{ parked: { id: string; action: { kind: string } }[] }>(
      gw.url,
      'GET',
      `/v1/shipments/${workflowId}`,
      { headers: as(P.agent) },
    );
    expect(status.status).toBe(200);
    expect(status.body.parked).toEqual([expect.objectContaining({ id: 'p1', action: { kind: 'billing' } })]);

    const asAgent = await post(gw.url, path(workflowId, 'skip'), P.agent, { parkedId: 'p1', reason: 'x' });
    expect(asAgent.status).toBe(403);

    const edit = await post(gw.url, path(workflowId, 'edit'), P.dispatcher, {
      parkedId: 'p1',
      edits: { message: 'bill it' },
    });
    expect(edit.status).toBe(422);
    expect(edit.body).toMatchObject({ code: 'PARKED_EDIT_INVALID' });

    const unknown = await post(gw.url, path(workflowId, 'retry'), P.dispatcher, { parkedId: 'p7' });
    expect(unknown.status).toBe(409);
    expect(unknown.body).toMatchObject({ code: 'PARKED_NOT_FOUND' });

    const skip = await post<ParkedOutcome>(gw.url, path(workflowId, 'skip'), P.financeA, {
      parkedId: 'p1',
      reason: 'invoiced by hand after the credit hold',
    });
    expect(skip.status).toBe(200);
    expect(skip.body).toMatchObject({ parkedId: 'p1', outcome: 'skipped', stillParked: 0 });
    expect((await handle.result()).billingDocumentId).toBe('');
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);

    const audit = await gw.store.audit.list({ shipmentId: workflowId });
    expect(
      audit
        .filter((a) => a.action.startsWith('parked.'))
        .reverse()
        .map((a) => [a.action, a.principalId, a.statusCode, a.detail?.reason ?? null]),
    ).toEqual([
      ['parked.skip', P.agent.id, 403, null],
      ['parked.edit_and_retry', P.dispatcher.id, 422, null],
      ['parked.retry', P.dispatcher.id, 409, null],
      ['parked.skip', P.financeA.id, 200, 'invoiced by hand after the credit hold'],
    ]);
  });

  it('when a milestone is parked then a dispatcher lists and retries it with shipsync parked after the rule is lifted and the ERP gets it once', async () => {
    await setErpRules(stack.erp.url, { rejectMilestoneCodes: ['PLANNED'] });
    const { workflowId, order, handle } = await delivered();
    await stack.waitFor(workflowId, (st) => !!st.parked?.length && !!st.billingDocumentId);
    const listed = await cli(P.dispatcher, 'list', workflowId);
    expect(listed.error).toBeUndefined();
    expect(listed.out).toMatch(
      /^p1 {2}planned#1 {2}ERP_BUSINESS_REJECTED {2}rejected 1x .*PLANNED is not permitted/,
    );
    const refused = await cli(P.dispatcher, 'retry', workflowId, 'p1');
    expect(refused.error).toBeInstanceOf(BadInput);
    expect(refused.error?.message).toMatch(/^ERP_BUSINESS_REJECTED: /);
    const badId = (await cli(P.dispatcher, 'retry', workflowId, 'first')).error;
    expect(badId).toBeInstanceOf(BadInput);
    expect(badId?.message).toMatch(/looks like p1/);

    await setErpRules(stack.erp.url, { rejectMilestoneCodes: [] });
    const retry = await cli(P.dispatcher, 'retry', workflowId, 'p1', '--json');
    expect(retry.error).toBeUndefined();
    expect(JSON.parse(retry.out)).toMatchObject({ parkedId: 'p1', outcome: 'posted', stillParked: 0 });
    expect((await handle.result()).outcome).toBe('delivered');
    const milestones = await erpMilestones(stack.erp.url, order.deliveryId);
    expect(milestones.filter((m) => m === 'PLANNED#1')).toHaveLength(1);
  });
});
