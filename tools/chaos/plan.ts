import type { ChaosBackend } from './args.js';

/** The processes a campaign runs: where Temporal and the inbox live, how many gateways and workers. */
export interface Topology {
  backend: ChaosBackend;
  gateways: number;
  workers: number;
}

/** What a fault cost and how long the stack took to be whole again, measured from the fault's start. */
export interface Recovery {
  /** Real seconds until the affected process or service served again; absent when it did not in time. */
  servingAfterSeconds?: number;
  /** Inbox rows waiting for delivery when the fault began. */
  backlogBefore?: number;
  /** The largest backlog seen until it drained. */
  backlogPeak?: number;
  /** Real seconds until the backlog was back at or below its level before the fault. */
  backlogDrainedAfterSeconds?: number;
  /** What else was seen while it lasted (the other gateway or worker kept at it, and how much). */
  note?: string;
}

/** One fault as it was injected. */
export interface FaultRecord {
  kind:
    | 'worker-kill'
    | 'worker-down'
    | 'worker-exit'
    | 'gateway-kill'
    | 'gateway-exit'
    | 'temporal-restart'
    | 'postgres-restart'
    | 'erp-outage'
    | 'crm-429-storm'
    | 'dispatch-webhook-faults'
    | 'malformed-webhooks';
  at: string;
  /** Real seconds after simulated 04:00 on the planning day (negative: before it). */
  offsetSeconds: number;
  detail: string;
  /** For faults that take something down: how long until it served again and the inbox drained. */
  recovery?: Recovery;
}

/** Faults on the dispatch sandbox's webhooks for the whole run. */
export const DISPATCH_WEBHOOK_FAULTS = {
  webhookDuplicateRate: 0.3,
  webhookDuplicateCopies: 3,
  webhookReorderRate: 0.2,
} as const;

/** The timed part of the campaign, in real seconds after simulated 04:00 (the ERP and CRM windows last `seconds`). */
export const CAMPAIGN = {
  malformedBatchAt: 5,
  workerKillsAt: [20, 38, 56, 92, 110],
  erpOutage: { at: 30, seconds: 60 },
  temporalRestart: { at: 70, downSeconds: 5 },
  crmStorm: { at: 100, seconds: 20 },
  /**
   * Several gateways: the last one is killed with SIGKILL and started again this much later. The kill waits
   * (up to `trafficWaitSeconds`) until dispatch webhooks are flowing, so the other gateway is seen accepting
   * while it is down: on a slow clock (×120) the day's first webhooks come after the planning cutoff.
   */
  gatewayKill: {
    at: 45,
    downSeconds: 10,
    trafficWaitSeconds: 300,
    traffic: { windowMs: 5000, deliveries: 10 },
  },
  /** The gateways' inbox (and Temporal's store) on PostgreSQL: the cluster is restarted. */
  postgresRestart: { at: 80 },
  /** Several workers: the last one is killed with SIGKILL and started again this much later. */
  workerDown: { at: 130, downSeconds: 15 },
} as const;

/** One step of the fault plan, at real seconds after simulated 04:00. */
export type PlannedFault =
  | { kind: 'malformed-webhooks'; at: number; batch: number }
  | { kind: 'worker-kill'; at: number; n: number; worker: number }
  | { kind: 'erp-outage'; at: number; seconds: number }
  | { kind: 'temporal-restart'; at: number; downSeconds: number; malformedBatch: number }
  | { kind: 'crm-429-storm'; at: number; seconds: number }
  | { kind: 'gateway-kill'; at: number; gateway: number; downSeconds: number }
  | { kind: 'postgres-restart'; at: number }
  | { kind: 'worker-down'; at: number; worker: number; downSeconds: number };

/** True when the topology keeps something on the machine's PostgreSQL (Temporal's store or the shared inbox). */
export function usesPostgres(t: Topology): boolean {
  return t.backend === 'postgres' || t.gateways > 1;
}

/**
 * The campaign's fault plan for a topology, in time order. Every topology gets today's faults (malformed
 * webhooks, five worker kills, an ERP outage, a Temporal restart with a malformed batch while it is down, a
 * CRM 429 storm); with several workers the kills go round them. Faults of the multi-process topology are
 * added only where they apply: a gateway killed while another keeps accepting (two or more gateways), a
 * PostgreSQL restart (when anything lives on PostgreSQL), a worker down while another keeps working (two
 * or more workers).
 */
export function faultPlan(t: Topology): PlannedFault[] {
  const plan: PlannedFault[] = [
    { kind: 'malformed-webhooks', at: CAMPAIGN.malformedBatchAt, batch: 1 },
    ...CAMPAIGN.workerKillsAt.map((at, i): PlannedFault => ({
      kind: 'worker-kill',
      at,
      n: i + 1,
      worker: i % t.workers,
    })),
    { kind: 'erp-outage', at: CAMPAIGN.erpOutage.at, seconds: CAMPAIGN.erpOutage.seconds },
    {
      kind: 'temporal-restart',
      at: CAMPAIGN.temporalRestart.at,
      downSeconds: CAMPAIGN.temporalRestart.downSeconds,
      malformedBatch: 2,
    },
    { kind: 'crm-429-storm', at: CAMPAIGN.crmStorm.at, seconds: CAMPAIGN.crmStorm.seconds },
  ];
  if (t.gateways > 1)
    plan.push({
      kind: 'gateway-kill',
      at: CAMPAIGN.gatewayKill.at,
      gateway: t.gateways - 1,
      downSeconds: CAMPAIGN.gatewayKill.downSeconds,
    });
  if (usesPostgres(t)) plan.push({ kind: 'postgres-restart', at: CAMPAIGN.postgresRestart.at });
  if (t.workers > 1)
    plan.push({
      kind: 'worker-down',
      at: CAMPAIGN.workerDown.at,
      worker: t.workers - 1,
      downSeconds: CAMPAIGN.workerDown.downSeconds,
    });
  // Stable: steps at the same second keep the order above.
  return plan
    .map((step, i) => ({ step, i }))
    .sort((a, b) => a.step.at - b.step.at || a.i - b.i)
    .map((x) => x.step);
}

/**
 * True when at least `deliveries` webhook deliveries were acknowledged (2xx) in the `windowMs` before `now`:
 * traffic is flowing, so a gateway killed now has webhooks that must go to the other one or wait for it.
 */
export function webhooksFlowing(
  log: readonly { at: string; status: number | 'error' }[],
  now: number,
  traffic: { windowMs: number; deliveries: number } = CAMPAIGN.gatewayKill.traffic,
): boolean {
  const since = new Date(now - traffic.windowMs).toISOString();
  let n = 0;
  // The log is appended as attempts end, so recent ones are at its end (a slow one may sit a little earlier).
  for (let i = log.length - 1; i >= Math.max(0, log.length - 5000); i--) {
    const a = log[i]!;
    if (a.at >= since && typeof a.status === 'number' && a.status < 300 && ++n >= traffic.deliveries)
      return true;
  }
  return false;
}
