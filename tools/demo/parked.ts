import type { Client } from '@temporalio/client';
import axios, { type AxiosInstance } from 'axios';
import type { Order } from '../../src/domain/model.js';
import type { ShipmentStatus } from '../../src/workflows/shipment/contract.js';
import { reconcileDays, reconciliationDates } from '../reconcile.js';

/** What the operator found and did about the milestones the ERP refused. */
export interface ParkedRound {
  /** Shipments that waited on parked work only. */
  waiting: number;
  /** Parked items the reconciliation job reported before the operator acted. */
  reported: number;
  /** Parked items retried after the fault was cleared. */
  retried: number;
}

/** Makes the ERP refuse one milestone code for good, as a key user's validation rule would. */
export async function rejectMilestone(erpUrl: string, code: string): Promise<void> {
  await axios.post(
    `${erpUrl}/__sandbox/business-rules`,
    { rejectMilestoneCodes: [code] },
    { timeout: 10_000 },
  );
}

/** Running shipments of the day that wait only on refused (parked) work, billed or not. */
export async function parkedWaiting(client: Client, ids: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = 'ShipmentWorkflow' AND ExecutionStatus = 'Running' AND ShipmentStatus = 'billing' AND OpenExceptions = 'outbound_rejected'`,
  })) {
    if (ids.has(wf.workflowId)) out.push(wf.workflowId);
  }
  return out;
}

/**
 * The operator's round on refused milestones: the reconciliation job reports the parked items, the operator
 * lifts the ERP's rule and retries each parked item through the gateway's API (as a dispatcher).
 */
export async function clearParked(o: {
  client: Client;
  erpUrl: string;
  api: AxiosInstance;
  dispatcherToken: string;
  orders: Order[];
  waiting: string[];
  say: (line: string) => void;
}): Promise<ParkedRound> {
  const reports = await reconcileDays(o.client, reconciliationDates(o.orders));
  const parked = reports.flatMap((r) => r.mismatches).filter((m) => m.kind === 'parked_side_effect');
  o.say(
    `reconciliation before the operator acts: ${parked.length} parked item(s) on ${new Set(parked.map((m) => m.shipmentId)).size} shipment(s) (${reports.map((r) => r.reportId).join(', ')})`,
  );
  await axios.post(`${o.erpUrl}/__sandbox/business-rules`, { rejectMilestoneCodes: [] }, { timeout: 10_000 });
  o.say('operator: ERP rule lifted; retrying the parked items');
  let retried = 0;
  for (const id of o.waiting) {
    const status = (
      await o.api.get<ShipmentStatus>(`/v1/shipments/${id}`, {
        headers: { authorization: `Bearer ${o.dispatcherToken}` },
      })
    ).data;
    for (const p of status.parked ?? []) {
      const res = await o.api.post(
        `/v1/shipments/${id}/parked/retry`,
        { parkedId: p.id },
        {
          headers: {
            authorization: `Bearer ${o.dispatcherToken}`,
            'idempotency-key': `demo-retry-${id}-${p.id}`,
          },
        },
      );
      if (res.status < 300) retried++;
      else
        o.say(`  retry of ${id} ${p.id} answered ${res.status}: ${JSON.stringify(res.data).slice(0, 200)}`);
    }
  }
  return { waiting: o.waiting.length, reported: parked.length, retried };
}
