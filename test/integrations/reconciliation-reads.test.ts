import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmAdapter } from '../../src/integrations/crm/adapter.js';
import { createDispatchAdapter } from '../../src/integrations/dispatch/adapter.js';
import { createErpAdapter } from '../../src/integrations/erp/adapter.js';
import type { Order } from '../../src/domain/model.js';
import { startCrmSandbox, type CrmSandbox } from '../../sandbox/crm/index.js';
import { startDispatchSandbox, type DispatchSandbox } from '../../sandbox/dispatch/index.js';
import { startErpSandbox, type ErpSandbox } from '../../sandbox/erp/server.js';
import { API_KEY, chicagoJob } from './dispatch/support.js';

/** The reads reconciliation makes, through each adapter against its sandbox, across the vendors' pages. */
const DAY = '2026-12-01';
let erpSandbox: ErpSandbox;
let dispatchSandbox: DispatchSandbox;
let crmSandbox: CrmSandbox;

beforeAll(async () => {
  [erpSandbox, dispatchSandbox, crmSandbox] = await Promise.all([
    startErpSandbox({ port: 0, seed: 3 }),
    startDispatchSandbox({
      seed: 3,
      clock: { scale: 1, anchorRealMs: Date.now(), anchorSimMs: Date.parse(`${DAY}T12:00:00Z`) },
      rateLimitPerSecond: 10_000,
    }),
    startCrmSandbox({ port: 0, seed: 3 }),
  ]);
});
afterAll(async () => {
  await Promise.all([erpSandbox?.close(), dispatchSandbox?.close(), crmSandbox?.close()]);
});

describe('reconciliation reads through the adapters', () => {
  it('when a delivery has more milestones than the ERP returns in one page then all of them are read, and billing too', async () => {
    const erp = createErpAdapter({ baseUrl: erpSandbox.url });
    const [busy, quiet] = erpSandbox.seed(2, { date: DAY, regions: ['CHI'] }) as [Order, Order];
    const at = `${DAY}T08:00:00Z`;
    const posts = Array.from({ length: 1010 }, (_, i) => i);
    for (let i = 0; i < posts.length; i += 50)
      await Promise.all(
        posts.slice(i, i + 50).map((n) =>
          erp.postMilestone({
            deliveryId: busy.deliveryId,
            milestone: 'delayed',
            attempt: 1,
            occurredAt: at,
            idempotencyKey: `reads:${busy.deliveryId}:${n}`,
          }),
        ),
      );
    await erp.postMilestone({
      deliveryId: quiet.deliveryId,
      milestone: 'failed_attempt',
      attempt: 2,
      occurredAt: at,
      idempotencyKey: `reads:${quiet.deliveryId}`,
    });
    const { billingDocumentId } = await erp.postBilling(
      {
        shipmentId: `shipment-${quiet.deliveryId}`,
        deliveryId: quiet.deliveryId,
        customerId: quiet.customerId,
        charges: [
          { code: 'BASE', description: 'Delivery', quantity: 1, unitPrice: 45, amount: 45, currency: 'USD' },
        ],
        total: 45,
        currency: 'USD',
      },
      `reads:${quiet.deliveryId}:billing`,
    );

    const milestones = await erp.listMilestones([busy.deliveryId, quiet.deliveryId]);
    expect(milestones.filter((m) => m.deliveryId === busy.deliveryId)).toHaveLength(1010);
    expect(milestones.filter((m) => m.deliveryId === quiet.deliveryId)).toEqual([
      { deliveryId: quiet.deliveryId, milestone: 'failed_attempt', attempt: 2, occurredAt: at },
    ]);
    expect(await erp.listBillingRequests([busy.deliveryId, quiet.deliveryId])).toEqual([
      { deliveryId: quiet.deliveryId, billingDocumentId, total: 45, currency: 'USD' },
    ]);
  });

  it('when dispatch holds more tasks than one page then the lastId pages carry every task with its shipment and attempt', async () => {
    const dispatch = createDispatchAdapter({ baseUrl: dispatchSandbox.url, apiKey: API_KEY });
    const created = new Map<string, string>();
    for (let i = 0; i < 70; i++) {
      const deliveryId = `R${randomUUID().slice(0, 8).toUpperCase()}`;
      const job = chicagoJob({ shipmentId: `shipment-${deliveryId}`, deliveryId, attempt: 1 + (i % 2) });
      const { taskId } = await dispatch.createTask(job, `reads:${deliveryId}`);
      created.set(taskId, job.shipmentId);
    }
    const seen = new Map<string, { shipmentId?: string; attempt?: number; state: string }>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await dispatch.listTasks({
        from: `${DAY}T00:00:00Z`,
        to: '2026-12-08T00:00:00Z',
        ...(cursor ? { cursor } : {}),
      });
      for (const t of page.tasks) seen.set(t.taskId, t);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThan(1);
    for (const [taskId, shipmentId] of created)
      expect(seen.get(taskId)).toMatchObject({ shipmentId, state: 'unassigned' });
    expect(new Set([...seen.values()].map((t) => t.attempt))).toEqual(new Set([1, 2]));
  });

  it('when a shipment has a case and a notice thread then both are listed by its external id, told apart', async () => {
    const crm = createCrmAdapter({ baseUrl: crmSandbox.url });
    const shipmentId = `shipment-R${randomUUID().slice(0, 8).toUpperCase()}`;
    const base = { shipmentId, deliveryId: shipmentId.slice(9), customerId: '10100001' };
    const { caseId } = await crm.openCase({
      ...base,
      kind: 'failed_attempt',
      subject: 'Delivery attempt failed',
      description: 'Nobody home',
      priority: 'normal',
      idempotencyKey: `${shipmentId}:case`,
    });
    await crm.notifyCustomer({
      ...base,
      message: 'We will try again tomorrow',
      idempotencyKey: `${shipmentId}:n1`,
    });
    const cases = await crm.listCases(shipmentId);
    expect(cases).toEqual(
      expect.arrayContaining([
        { caseId, kind: 'failed_attempt', status: expect.any(String), noticeThread: false },
        expect.objectContaining({ noticeThread: true }),
      ]),
    );
    expect(cases).toHaveLength(2);
  });
});
