/** One fault as it was injected. */
export interface FaultRecord {
  kind:
    | 'worker-kill'
    | 'worker-exit'
    | 'gateway-exit'
    | 'temporal-restart'
    | 'erp-outage'
    | 'crm-429-storm'
    | 'dispatch-webhook-faults'
    | 'malformed-webhooks';
  at: string;
  /** Real seconds after simulated 04:00 on the planning day (negative: before it). */
  offsetSeconds: number;
  detail: string;
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
} as const;
