import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What happened to one incoming webhook. */
export type IntakeOutcome = 'accepted' | 'duplicate' | 'rejected' | 'telemetry' | 'ignored';
/** What happened to one delivery attempt. */
export type ForwardOutcome = 'delivered' | 'late' | 'ignored' | 'retry' | 'dead';

/** The gateway's Prometheus metrics, on their own registry so tests and several gateways never collide. */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({
    name: 'shipsync_gateway_events_total',
    help: 'Webhook events by source, outcome and error code (empty code when accepted)',
    labelNames: ['source', 'outcome', 'code'] as const,
    registers: [this.registry],
  });
  readonly backlog = new Gauge({
    name: 'shipsync_inbox_backlog',
    help: 'Inbox rows waiting for delivery to Temporal',
    registers: [this.registry],
  });
  readonly forwardLatency = new Histogram({
    name: 'shipsync_forward_latency_seconds',
    help: 'Time from webhook receipt to delivery to Temporal',
    labelNames: ['source', 'type'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly forwards = new Counter({
    name: 'shipsync_forward_attempts_total',
    help: 'Delivery attempts to Temporal by source and outcome (delivered, late, ignored, retry, dead)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly lateEvents = new Counter({
    name: 'shipsync_gateway_late_events_total',
    help: 'Events that arrived after their shipment had closed: kept in the inbox as late, not dead letters',
    labelNames: ['source', 'type'] as const,
    registers: [this.registry],
  });
  readonly ignoredEvents = new Counter({
    name: 'shipsync_gateway_ignored_events_total',
    help: 'Events refused before their workflow with a reason, e.g. about a dispatch task shipsync did not create',
    labelNames: ['source', 'type'] as const,
    registers: [this.registry],
  });
  readonly telemetryRows = new Counter({
    name: 'shipsync_telemetry_rows_total',
    help: 'Telemetry samples written to the operational data store',
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'shipsync_gateway_http_request_duration_seconds',
    help: 'Gateway HTTP request durations by route and status class',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Reports the read model's status queries so far, by what asked for them (read at each scrape). */
  odsQueriesFrom(queries: Readonly<Record<string, number>>): void {
    new Gauge({
      name: 'shipsync_ods_status_queries',
      help: 'Status queries the read model asked of shipments since the gateway started, by trigger (event, api, sweep, watch, rebuild); each is a task the worker answers',
      labelNames: ['trigger'] as const,
      registers: [this.registry],
      collect() {
        for (const [trigger, n] of Object.entries(queries)) this.set({ trigger }, n);
      },
    });
  }

  readonly authRefusals = new Counter({
    name: 'shipsync_gateway_auth_refusals_total',
    help: 'API requests refused for a missing or unknown bearer token (not written to the audit trail)',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'shipsync_gateway_rate_limited_total',
    help: 'Requests refused with 429 RATE_LIMITED, by limit (ip, principal, source) and source (api, dispatch, erp, crm)',
    labelNames: ['scope', 'source'] as const,
    registers: [this.registry],
  });
  readonly auditWriteFailures = new Counter({
    name: 'shipsync_gateway_audit_write_failures_total',
    help: 'Audit rows that could not be written (the request was answered; see the gateway log)',
    registers: [this.registry],
  });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'shipsync_gateway_' });
  }

  /** Counts one webhook outcome. */
  event(source: string, outcome: IntakeOutcome, code = '') {
    this.events.inc({ source, outcome, code });
  }
}
