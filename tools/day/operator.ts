import { createRequire } from 'node:module';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { AxiosInstance } from 'axios';
import type { Order } from '../../src/domain/model.js';
import { shipmentWorkflowId, type ShipmentResult } from '../../src/workflows/shipment/contract.js';

const gazetteer = createRequire(import.meta.url)('zipcodes') as {
  lookupByName(city: string, state: string): { zip: string }[];
};

/** What one call to the gateway's API came to: done, nothing to do, or worth another try later. */
export type ActOutcome = 'done' | 'skipped' | 'retry';

/** Who the operator is on the gateway's API. */
export interface OperatorOptions {
  client: Client;
  /** The gateway's API, answering every status (validateStatus always true). */
  api: AxiosInstance;
  /** The day's orders; only their shipments are acted on. */
  orders: readonly Order[];
  /** Names the operator in idempotency keys (e.g. `demo`). */
  actor: string;
  /**
   * Bearer tokens of an agent (address corrections) and of two finance principals (charge approvals; the
   * second completes a four-eyes approval). Who acted is the token's principal, set by the gateway.
   */
  tokens: { agent: string; finance: string; secondFinance: string };
}

/** The search attribute value of a shipment's phase. */
function phaseOf(wf: WorkflowExecutionInfo): string {
  return (wf.searchAttributes as Record<string, string[] | undefined>).ShipmentStatus?.[0] ?? 'released';
}

/**
 * The operator who plays the business day against the gateway's API, as demo, chaos and bench do: the agent
 * corrects every other held address from its city, finance approves charges waiting for approval, each
 * shipment once per phase; closed shipments' results are collected along the way.
 */
export class DayOperator {
  readonly results = new Map<string, ShipmentResult>();
  /** Workflows that closed without a result (failed, terminated, timed out), with their status. */
  readonly closedWithoutResult = new Map<string, string>();
  readonly counts = { addressCorrections: 0, approvals: 0 };
  readonly ids: string[];
  private readonly byId: Map<string, Order>;
  private readonly handled = new Set<string>();

  constructor(private readonly o: OperatorOptions) {
    this.ids = o.orders.map((x) => shipmentWorkflowId(x.deliveryId));
    this.byId = new Map(o.orders.map((x) => [shipmentWorkflowId(x.deliveryId), x]));
  }

  /** The gateway's API the operator acts through. */
  get api(): AxiosInstance {
    return this.o.api;
  }

  /** Whether every shipment of the day has closed, with or without a result. */
  get allClosed(): boolean {
    return this.results.size + this.closedWithoutResult.size >= this.ids.length;
  }

  /**
   * One look at every shipment workflow: collects the results of closed ones and acts on open ones that
   * wait for an agent or for finance. Returns the open shipments by phase.
   */
  async pass(): Promise<Record<string, number>> {
    const phases: Record<string, number> = {};
    const { client } = this.o;
    for await (const wf of client.workflow.list({ query: `WorkflowType = 'ShipmentWorkflow'` })) {
      const status = wf.status.name;
      if (status === 'CONTINUED_AS_NEW' || !this.byId.has(wf.workflowId)) continue;
      if (status === 'COMPLETED') {
        if (!this.results.has(wf.workflowId))
          this.results.set(
            wf.workflowId,
            (await client.workflow.getHandle(wf.workflowId).result()) as ShipmentResult,
          );
        continue;
      }
      if (status !== 'RUNNING') {
        this.closedWithoutResult.set(wf.workflowId, status);
        continue;
      }
      const phase = phaseOf(wf);
      phases[phase] = (phases[phase] ?? 0) + 1;
      await this.act(wf.workflowId, phase);
    }
    return phases;
  }

  /** Acts only on shipments waiting for an agent or for finance (cheaper than `pass` at high volume). */
  async actOnWaiting(): Promise<void> {
    for await (const wf of this.o.client.workflow.list({
      query: `WorkflowType = 'ShipmentWorkflow' AND ExecutionStatus = 'Running' AND ShipmentStatus IN ('on_hold', 'awaiting_approval')`,
    })) {
      if (this.byId.has(wf.workflowId)) await this.act(wf.workflowId, phaseOf(wf));
    }
  }

  /** Acts on one shipment in a phase, once; a slow or failed call is tried again on a later pass. */
  private async act(workflowId: string, phase: string): Promise<void> {
    const key = `${workflowId}:${phase}`;
    if (this.handled.has(key)) return;
    let outcome: ActOutcome = 'skipped';
    if (phase === 'on_hold') {
      outcome = await this.correctAddress(workflowId).catch(() => 'retry' as const);
      if (outcome === 'done') this.counts.addressCorrections++;
    } else if (phase === 'awaiting_approval') {
      outcome = await this.approveCharges(workflowId).catch(() => 'retry' as const);
      if (outcome === 'done') this.counts.approvals++;
    }
    if (outcome !== 'retry') this.handled.add(key);
  }

  /** Plays the agent: every other held shipment gets its ZIP corrected from its city; the rest time out. */
  async correctAddress(workflowId: string): Promise<ActOutcome> {
    const order = this.byId.get(workflowId);
    if (!order || Number(order.deliveryId.replace(/\D/g, '').slice(-1)) % 2 === 1) return 'skipped';
    const zip = gazetteer.lookupByName(order.address.city, order.address.state)[0]?.zip;
    if (!zip) return 'skipped';
    const res = await this.o.api.post(
      `/v1/shipments/${workflowId}/address`,
      { address: { ...order.address, postalCode: zip } },
      {
        headers: {
          authorization: `Bearer ${this.o.tokens.agent}`,
          'idempotency-key': `${this.o.actor}-address-${workflowId}`,
        },
      },
    );
    return outcomeOf(res.status);
  }

  /**
   * Plays finance: approves the charges a shipment waits on; when the approval is pending (four-eyes), the
   * second finance principal completes it.
   */
  async approveCharges(workflowId: string): Promise<ActOutcome> {
    const approve = (token: string) =>
      this.o.api.post(
        `/v1/shipments/${workflowId}/charges/approval`,
        { approve: true },
        {
          headers: {
            authorization: `Bearer ${token}`,
            'idempotency-key': `${this.o.actor}-approve-${workflowId}`,
          },
        },
      );
    const first = await approve(this.o.tokens.finance);
    if (first.status !== 200 || (first.data as { status?: string } | undefined)?.status !== 'pending')
      return outcomeOf(first.status);
    const second = await approve(this.o.tokens.secondFinance);
    return outcomeOf(second.status);
  }
}

function outcomeOf(status: number): ActOutcome {
  if (status >= 500 || status === 429) return 'retry';
  return status < 300 ? 'done' : 'skipped';
}
