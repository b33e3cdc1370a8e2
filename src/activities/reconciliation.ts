import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ShipsyncError } from '../domain/errors.js';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { Client } from '@temporalio/client';
import {
  compareShipment,
  initialStatus,
  type Mismatch,
  type RepairStatus,
  type ShipmentFacts,
  type WorkflowFacts,
} from '../domain/reconciliation.js';
import type { CaseView, CrmPort, DispatchPort, DispatchTaskView, ErpPort } from '../integrations/ports.js';
import {
  deliveryIdOf,
  statusQuery,
  type ShipmentResult,
  type ShipmentStatus,
} from '../workflows/shipment/contract.js';
import { shipmentsQuery } from '../workflows/shipment/search-attributes.js';
import { grpcCodeOf } from '../platform/temporal-client.js';
import { classified } from './failures.js';

/** Where reconciliation keeps its reports: the gateway's store (`shipsync reconcile`, `GET /v1/reconciliation`). */
export interface ReconciliationReportSink {
  /** Creates the report (or resets a report of the same id to running, for a retried start). */
  begin(report: {
    id: string;
    date: string;
    region?: string;
    repair: boolean;
    startedAt: string;
  }): Promise<void>;
  /** Adds mismatches under their sequence numbers (a retried page writes the same rows again). */
  addMismatches(reportId: string, items: { seq: number; mismatch: Mismatch }[]): Promise<void>;
  /** Records how repairs went. */
  setStatuses(
    reportId: string,
    updates: { seq: number; status: RepairStatus; error?: string }[],
  ): Promise<void>;
  /** Marks the report completed with its totals. */
  finish(reportId: string, totals: { checked: number; inFlight: number; finishedAt: string }): Promise<void>;
}

/** Days around the delivery date in which dispatch tasks of the day's shipments are created or completed. */
const TASK_WINDOW_DAYS_BEFORE = 7;
const TASK_WINDOW_DAYS_AFTER = 8;
/** Shipments whose results, queries and CRM tickets are read at once. */
const READS_IN_FLIGHT = 5;

/** Dispatch listings (one per running report) a worker keeps at once. */
const MAX_CACHED_LISTINGS = 4;
/** Waits on a vendor's rate limit one read may take before the page fails (and Temporal retries it). */
const RATE_LIMIT_WAITS = 30;

/**
 * Runs a vendor read, waiting out its rate limit (the vendor's Retry-After) instead of failing the whole
 * page: reconciliation shares the vendor's budget with the shipments, which go first.
 */
async function patiently<T>(read: () => Promise<T>): Promise<T> {
  for (let waits = 0; ; waits++) {
    try {
      return await read();
    } catch (err) {
      if (!(err instanceof ShipsyncError) || !err.code.endsWith('_RATE_LIMITED') || waits >= RATE_LIMIT_WAITS)
        throw err;
      heartbeat({ stage: 'rate-limited', code: err.code });
      await sleep(Math.min(60_000, err.details.retryAfterMs ?? 1000));
    }
  }
}

/** Temporal's execution statuses, as visibility lists them. */
const STATUS = { running: 1, completed: 2, continuedAsNew: 6 } as const;
const STATUS_NAMES: Record<number, string> = {
  3: 'FAILED',
  4: 'CANCELED',
  5: 'TERMINATED',
  7: 'TIMED_OUT',
};

/** Runs `fn` over the items, `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function heartbeat(details: unknown) {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Called outside an activity (a unit test): nothing to report to.
  }
}

/** The visibility query of a day's shipments on this deployment's task queue, optionally one region's. */
export function dayShipmentsQuery(date: string, region: string | undefined, prefix: string): string {
  const next = new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return shipmentsQuery(
    prefix,
    `DeliveryDate >= '${date}T00:00:00Z'`,
    `DeliveryDate < '${next}T00:00:00Z'`,
    ...(region ? [`Region = '${region}'`] : []),
  );
}

/**
 * Reconciliation activities (task queue `shipments`): read the day's shipments from Temporal and what the
 * ERP, dispatch and the CRM hold for them through the vendors' public APIs, compare, and keep the report.
 */
export function createReconciliationActivities(deps: {
  client: Client;
  erp: ErpPort;
  dispatch: DispatchPort;
  crm: CrmPort;
  /** The gateway's store, opened on first use. */
  reports?: () => Promise<ReconciliationReportSink>;
}) {
  const reports = async () => {
    if (!deps.reports) throw new Error('no report store configured for reconciliation');
    return deps.reports();
  };

  /** What the workflow of one shipment says: its result, its parked work, or how it ended. */
  const workflowFacts = async (workflowId: string, runId: string, status: number): Promise<WorkflowFacts> => {
    if (status === STATUS.completed) {
      const result = (await deps.client.workflow.getHandle(workflowId, runId).result()) as ShipmentResult;
      return {
        state: 'closed',
        outcome: result.outcome,
        attempts: result.attempts,
        total: result.total,
        billingDocumentId: result.billingDocumentId,
        milestones: result.milestones.map((m) => ({
          milestone: m.milestone,
          attempt: m.attempt,
          at: m.at,
          ...(m.eta ? { eta: m.eta } : {}),
        })),
      };
    }
    if (status === STATUS.running) {
      let s: ShipmentStatus;
      try {
        s = await deps.client.workflow.getHandle(workflowId).query(statusQuery);
      } catch (err) {
        // One stuck shipment (its workflow task failing: the server refuses the query as a failed
        // precondition) is a finding of the report, not the end of it; Temporal being away is retried.
        if (grpcCodeOf(err) !== grpcStatus.FAILED_PRECONDITION) throw err;
        const cause =
          err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
        return { state: 'running', parked: [], unreadable: cause };
      }
      return {
        state: 'running',
        parked: (s.parked ?? []).map((p) => ({
          id: p.id,
          kind: p.action.kind,
          code: p.code,
          message: p.message,
        })),
      };
    }
    return { state: 'ended', status: STATUS_NAMES[status] ?? `status ${status}` };
  };

  /**
   * Every dispatch task of the day's window that carries a shipment id, by shipment, walking `lastId` pages.
   * Listed once per report and worker process (the pages of one run share it), at most a few runs kept.
   */
  const taskListings = new Map<string, Promise<Map<string, DispatchTaskView[]>>>();
  const listDispatchTasks = async (date: string) => {
    const day = Date.parse(`${date}T00:00:00Z`);
    const from = new Date(day - TASK_WINDOW_DAYS_BEFORE * 86_400_000).toISOString();
    const to = new Date(day + TASK_WINDOW_DAYS_AFTER * 86_400_000).toISOString();
    const byShipment = new Map<string, DispatchTaskView[]>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await patiently(() =>
        deps.dispatch.listTasks({ from, to, ...(cursor ? { cursor } : {}) }),
      );
      for (const t of page.tasks) {
        if (!t.shipmentId) continue;
        byShipment.set(t.shipmentId, [...(byShipment.get(t.shipmentId) ?? []), t]);
      }
      cursor = page.nextCursor;
      if (++pages % 20 === 0) heartbeat({ stage: 'dispatch', pages });
    } while (cursor);
    return byShipment;
  };
  const dispatchTasks = (reportId: string, date: string) => {
    let listing = taskListings.get(reportId);
    if (!listing) {
      listing = listDispatchTasks(date);
      listing.catch(() => taskListings.delete(reportId));
      taskListings.set(reportId, listing);
      while (taskListings.size > MAX_CACHED_LISTINGS) taskListings.delete(taskListings.keys().next().value!);
    }
    return listing;
  };

  return classified({
    /** Creates the run's report in the store, status running. */
    async beginReconciliationReport(input: {
      reportId: string;
      date: string;
      region?: string;
      repair: boolean;
      startedAt: string;
    }): Promise<void> {
      await (
        await reports()
      ).begin({
        id: input.reportId,
        date: input.date,
        repair: input.repair,
        startedAt: input.startedAt,
        ...(input.region ? { region: input.region } : {}),
      });
    },

    /**
     * Compares one page of the day's shipments (Temporal visibility, `cursor` is its page token) with the ERP
     * (`$filter` on milestones and billing requests), dispatch (`tasks/all` over the day's window) and the CRM
     * (tickets by external id); stores the mismatches under `firstSeq`, `firstSeq + 1`, ...
     */
    async reconcileShipmentsPage(input: {
      reportId: string;
      date: string;
      region?: string;
      taskQueuePrefix: string;
      pageSize: number;
      cursor?: string;
      firstSeq: number;
    }): Promise<{
      checked: number;
      inFlight: number;
      mismatches: { seq: number; mismatch: Mismatch }[];
      nextCursor?: string;
    }> {
      const page = await deps.client.workflowService.listWorkflowExecutions({
        namespace: deps.client.options.namespace,
        query: dayShipmentsQuery(input.date, input.region, input.taskQueuePrefix),
        pageSize: input.pageSize,
        ...(input.cursor ? { nextPageToken: Buffer.from(input.cursor, 'base64') } : {}),
      });
      const seen = new Set<string>();
      const executions: { workflowId: string; runId: string; status: number; deliveryId: string }[] = [];
      for (const e of page.executions) {
        const workflowId = e.execution?.workflowId ?? '';
        const status = Number(e.status ?? 0);
        const deliveryId = deliveryIdOf(workflowId);
        // A continued run's successor is listed too; each shipment is compared once.
        if (!deliveryId || status === STATUS.continuedAsNew || seen.has(workflowId)) continue;
        seen.add(workflowId);
        executions.push({ workflowId, runId: e.execution?.runId ?? '', status, deliveryId });
      }
      heartbeat({ stage: 'workflows', shipments: executions.length });

      const facts = new Map<string, WorkflowFacts>();
      await eachLimited(executions, READS_IN_FLIGHT, async (e) => {
        facts.set(e.workflowId, await workflowFacts(e.workflowId, e.runId, e.status));
      });
      const closed = executions.filter((e) => facts.get(e.workflowId)?.state === 'closed');
      const closedDeliveries = closed.map((e) => e.deliveryId);
      const [milestones, billing] = closedDeliveries.length
        ? await Promise.all([
            patiently(() => deps.erp.listMilestones(closedDeliveries)),
            patiently(() => deps.erp.listBillingRequests(closedDeliveries)),
          ])
        : [[], []];
      heartbeat({ stage: 'erp', milestones: milestones.length });
      const tasks = closed.length
        ? await dispatchTasks(input.reportId, input.date)
        : new Map<string, DispatchTaskView[]>();
      const cases = new Map<string, CaseView[]>();
      await eachLimited(closed, READS_IN_FLIGHT, async (e) => {
        cases.set(e.workflowId, await patiently(() => deps.crm.listCases(e.workflowId)));
      });
      heartbeat({ stage: 'crm', shipments: closed.length });

      const found: { seq: number; mismatch: Mismatch }[] = [];
      for (const e of executions) {
        const shipment: ShipmentFacts = {
          shipmentId: e.workflowId,
          deliveryId: e.deliveryId,
          workflow: facts.get(e.workflowId)!,
          erpMilestones: milestones.filter((m) => m.deliveryId === e.deliveryId),
          erpBilling: billing.filter((b) => b.deliveryId === e.deliveryId),
          tasks: tasks.get(e.workflowId) ?? [],
          cases: cases.get(e.workflowId) ?? [],
        };
        for (const m of compareShipment(shipment)) {
          found.push({ seq: input.firstSeq + found.length, mismatch: { ...m, status: initialStatus(m) } });
        }
      }
      if (found.length) await (await reports()).addMismatches(input.reportId, found);
      if (!page.nextPageToken?.length) taskListings.delete(input.reportId);
      const token = page.nextPageToken?.length
        ? Buffer.from(page.nextPageToken).toString('base64')
        : undefined;
      return {
        checked: executions.length,
        inFlight: executions.filter((e) => facts.get(e.workflowId)?.state === 'running').length,
        mismatches: found,
        ...(token ? { nextCursor: token } : {}),
      };
    },

    /** Records how the repairs of a run went. */
    async recordReconciliationRepairs(input: {
      reportId: string;
      updates: { seq: number; status: RepairStatus; error?: string }[];
    }): Promise<void> {
      if (input.updates.length) await (await reports()).setStatuses(input.reportId, input.updates);
    },

    /** Marks the report completed. */
    async finishReconciliationReport(input: {
      reportId: string;
      checked: number;
      inFlight: number;
      finishedAt: string;
    }): Promise<void> {
      await (
        await reports()
      ).finish(input.reportId, {
        checked: input.checked,
        inFlight: input.inFlight,
        finishedAt: input.finishedAt,
      });
    },
  });
}

/** The reconciliation activity functions, for `proxyActivities` typing. */
export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
