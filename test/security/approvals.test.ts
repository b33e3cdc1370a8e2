import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchEventSignal, type ApprovalResult } from '../../src/workflows/shipment/contract.js';
import { erpBilling } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';
import { P, post, startSecureGateway, type SecureGateway } from './support.js';

/**
 * Separation of duties on the real ShipmentWorkflow, through a real gateway over HTTP: accessorials above
 * 50 USD wait for finance; above 100 USD they need two different finance principals.
 */
let stack: Stack;
let gw: SecureGateway;

beforeAll(async () => {
  stack = await startStack({ settings: { approvalThreshold: 50, fourEyesThreshold: 100 } });
  gw = await startSecureGateway(stack.client);
});

afterAll(async () => {
  await gw?.close();
  await stack?.close();
});

/** Drives a new shipment to delivery with accessorials (liftgate 75 USD, waiting over free time at 1.5 USD a minute). */
async function awaitingApproval(waitingMinutes: number) {
  const started = await stack.start();
  const { workflowId } = started;
  await stack.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
  const handle = stack.client.workflow.getHandle(workflowId);
  for (const type of ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'] as const) {
    const data =
      type === 'delivery.completed.v1' ? { accessorials: { liftgate: true, waitingMinutes } } : undefined;
    await handle.signal(dispatchEventSignal, await stack.event(workflowId, type, data));
  }
  const status = await stack.waitFor(workflowId, (st) => st.awaitingApproval);
  return { ...started, status };
}

const approvalPath = (workflowId: string) => `/v1/shipments/${workflowId}/charges/approval`;

describe('who approves charges', () => {
  it('when principal A sends an approval naming B then it is refused, and A approving records A, never B', async () => {
    const { workflowId, order, handle, status } = await awaitingApproval(0);
    expect(status.approvalsRequired).toBe(1);
    const asB = await post(gw.url, approvalPath(workflowId), P.financeA, {
      approve: true,
      approvedBy: P.financeB.id,
    });
    expect(asB.status).toBe(400);
    expect(asB.body).toMatchObject({ code: 'VALIDATION_FAILED', field: 'approvedBy' });
    expect((await stack.waitFor(workflowId, () => true)).awaitingApproval).toBe(true);

    const own = await post<ApprovalResult>(gw.url, approvalPath(workflowId), P.financeA, { approve: true });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ status: 'approved', approvals: [{ principal: P.financeA.id }] });
    await handle.result();
    const [billing] = await erpBilling(stack.erp.url, order.deliveryId);
    expect(billing?.approvedBy).toBe(P.financeA.id);
    expect(billing?.secondApprovedBy ?? '').toBe('');
  });

  it('when an admin or an ops watcher approves charges then it is 403: admin does not imply finance, ops only reads', async () => {
    const { workflowId, handle } = await awaitingApproval(0);
    for (const who of [P.admin, P.ops]) {
      const res = await post(gw.url, approvalPath(workflowId), who, { approve: true });
      expect(res.status, who.id).toBe(403);
      expect(res.body).toMatchObject({ code: 'FORBIDDEN' });
    }
    const st = await stack.waitFor(workflowId, () => true);
    expect(st).toMatchObject({ phase: 'awaiting_approval', awaitingApproval: true });
    expect(st.approvals ?? []).toEqual([]);
    // Finance closes it so the shipment does not linger.
    expect((await post(gw.url, approvalPath(workflowId), P.financeB, { approve: true })).status).toBe(200);
    await handle.result();
  });
});

describe('four-eyes approval above the second threshold', () => {
  it('when charges pass the four-eyes threshold then one approval is pending, the same principal twice is refused, and a second finance principal completes it with both recorded', async () => {
    const { workflowId, order, handle, status } = await awaitingApproval(45);
    expect(status.approvalsRequired).toBe(2);

    const first = await post<ApprovalResult>(gw.url, approvalPath(workflowId), P.financeA, { approve: true });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: 'pending',
      approvalsRequired: 2,
      approvals: [{ principal: P.financeA.id, decision: 'approved' }],
    });
    // Still waiting: nothing is billed on one approval.
    const pending = await stack.waitFor(workflowId, () => true);
    expect(pending).toMatchObject({ phase: 'awaiting_approval', awaitingApproval: true });
    expect(await erpBilling(stack.erp.url, order.deliveryId)).toEqual([]);

    const again = await post(gw.url, approvalPath(workflowId), P.financeA, { approve: true });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'APPROVAL_SAME_PRINCIPAL' });

    const second = await post<ApprovalResult>(gw.url, approvalPath(workflowId), P.financeB, {
      approve: true,
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      status: 'approved',
      approvals: [
        { principal: P.financeA.id, decision: 'approved' },
        { principal: P.financeB.id, decision: 'approved' },
      ],
    });
    const result = await handle.result();
    expect(result.charges.map((c) => c.code)).toEqual(expect.arrayContaining(['LIFTGATE', 'WAITING']));
    const [billing] = await erpBilling(stack.erp.url, order.deliveryId);
    expect(billing).toMatchObject({ approvedBy: P.financeA.id, secondApprovedBy: P.financeB.id });

    const audit = await gw.store.audit.list({ shipmentId: workflowId });
    expect(
      audit
        .filter((a) => a.action === 'charges.approve')
        .reverse()
        .map((a) => [a.principalId, a.statusCode, a.outcome, a.detail?.status ?? null]),
    ).toEqual([
      [P.financeA.id, 200, 'ok', 'pending'],
      [P.financeA.id, 409, 'APPROVAL_SAME_PRINCIPAL', null],
      [P.financeB.id, 200, 'ok', 'approved'],
    ]);
  });

  it('when one idempotency key is sent by two finance principals then each gets its own answer', async () => {
    const { workflowId, handle } = await awaitingApproval(45);
    const key = `shared-${workflowId}`;
    const a = await post<ApprovalResult>(
      gw.url,
      approvalPath(workflowId),
      P.financeA,
      { approve: true },
      key,
    );
    const b = await post<ApprovalResult>(
      gw.url,
      approvalPath(workflowId),
      P.financeB,
      { approve: true },
      key,
    );
    expect([a.body.status, b.body.status]).toEqual(['pending', 'approved']);
    await handle.result();
  });
});
