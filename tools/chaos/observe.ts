import { setTimeout as sleep } from 'node:timers/promises';
import axios, { type AxiosInstance } from 'axios';
import type { Order } from '../../src/domain/model.js';
import { sandboxToken } from '../../src/platform/config.js';
import { statusQuery, type ShipmentResult } from '../../src/workflows/shipment/contract.js';
import { taskQueues } from '../../src/workflows/task-queues.js';
import { reconcile } from '../reconcile.js';
import type { FullStack } from '../stack.js';
import { deliveryOf, type ChaosObservations, type DeadLetterRecord } from './invariants.js';
import type { SentMalformed } from './malformed.js';

/** Seconds until the worker process `pid` polls the workflow task queue, or undefined after the timeout. */
export async function waitForPoller(
  stack: FullStack,
  pid: number | undefined,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      const res = await stack.client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueues().shipments },
        taskQueueType: 1,
      });
      if ((res.pollers ?? []).some((p) => p.identity?.startsWith(`${pid}@`)))
        return Math.round((Date.now() - started) / 100) / 10;
    } catch {
      // Temporal is still coming back: ask again.
    }
    await sleep(250);
  }
  return undefined;
}

/** Waits until the gateway's inbox has nothing left to deliver (or the timeout passes). */
export async function waitForInbox(api: AxiosInstance, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await api.get<{ backlog?: number }>('/readyz').catch(() => undefined);
    if (res?.status === 200 && res.data.backlog === 0) return;
    await sleep(500);
  }
}

/** Gathers everything the invariants look at, once, at the end of the run. */
export async function observe(
  stack: FullStack,
  o: {
    ids: string[];
    orders: Order[];
    results: Map<string, ShipmentResult>;
    closedWithoutResult: Map<string, string>;
    malformed: SentMalformed[];
    api: AxiosInstance;
  },
): Promise<ChaosObservations> {
  const get = async <T>(url: string, params?: Record<string, string>) =>
    (await axios.get<T>(url, { params, timeout: 30_000 })).data;
  const reconciliation = await reconcile({
    client: stack.client,
    erpUrl: stack.erp.url,
    dispatchUrl: stack.dispatch.url,
    crmUrl: stack.crm.url,
    orders: o.orders,
    results: o.results,
  });
  const erpMilestones = new Map<string, string[]>();
  const crmCaseKinds = new Map<string, (string | null)[]>();
  for (const id of o.ids) {
    const { milestones } = await get<{ milestones: { milestone: string; attempt: number }[] }>(
      `${stack.erp.url}/__sandbox/deliveries/${deliveryOf(id)}/milestones`,
    );
    erpMilestones.set(
      id,
      milestones.map((m) => `${m.milestone}#${Number(m.attempt)}`),
    );
  }
  const { cases } = await get<{ cases: { externalId: string | null; kind: string | null }[] }>(
    `${stack.crm.url}/__sandbox/cases`,
  );
  for (const c of cases)
    if (c.externalId) crmCaseKinds.set(c.externalId, [...(crmCaseKinds.get(c.externalId) ?? []), c.kind]);
  const { billingRequests } = await get<{
    billingRequests: { billingDocumentRequest: string; deliveryId: string }[];
  }>(`${stack.erp.url}/__sandbox/billing`);

  const stuck = new Map<string, string>();
  for (const id of o.ids.filter((x) => !o.results.has(x) && !o.closedWithoutResult.has(x))) {
    const status = await stack.client.workflow
      .getHandle(id)
      .query(statusQuery)
      .catch(() => undefined);
    const { tasks } = await get<{
      tasks: { state: number; worker: string | null; metadata: { name: string; value: unknown }[] }[];
    }>(`${stack.dispatch.url}/__sandbox/tasks`, { shipmentId: id });
    const states = ['unassigned', 'assigned', 'active', 'completed'];
    const taskText = tasks
      .map(
        (t) =>
          `attempt ${JSON.stringify(t.metadata.find((m) => m.name === 'attempt')?.value ?? '?')} ${states[t.state] ?? t.state}${t.worker ? '' : ' (no driver)'}`,
      )
      .join(', ');
    stuck.set(
      id,
      `workflow phase ${status?.phase ?? 'unknown'} (dispatch events applied ${status?.eventsApplied ?? '?'}, ignored ${status?.eventsIgnored ?? '?'}); dispatch task ${taskText || 'none'}; open cases ${status?.openCases.map((c) => c.kind).join(', ') || 'none'}`,
    );
  }

  const admin = { authorization: `Bearer ${sandboxToken('admin')}` };
  const summaries: { id: number }[] = [];
  let before: number | undefined;
  for (;;) {
    const res = await o.api.get<{ deadLetters: { id: number }[]; nextBefore?: number }>('/v1/dead-letters', {
      headers: admin,
      params: { limit: 500, ...(before ? { before } : {}) },
    });
    if (res.status !== 200) throw new Error(`GET /v1/dead-letters answered ${res.status}`);
    summaries.push(...res.data.deadLetters);
    if (!res.data.nextBefore || summaries.length >= 5000) break;
    before = res.data.nextBefore;
  }
  const deadLetters: DeadLetterRecord[] = [];
  for (const s of summaries.slice(0, 1000)) {
    const res = await o.api.get<DeadLetterRecord>(`/v1/dead-letters/${s.id}`, { headers: admin });
    if (res.status === 200) deadLetters.push(res.data);
  }
  return {
    shipmentIds: o.ids,
    results: o.results,
    closedWithoutResult: o.closedWithoutResult,
    erpMilestones,
    billing: billingRequests,
    crmCaseKinds,
    reconciliation,
    deadLetters,
    malformed: o.malformed,
    stuck,
  };
}
