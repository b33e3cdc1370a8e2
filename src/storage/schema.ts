import type { ColumnType, Generated } from 'kysely';

/**
 * Row shapes of the middleware's own tables as kysely sees them. Timestamps are ISO-8601 strings on
 * SQLite and `timestamptz` on PostgreSQL (read back as Date); JSON columns are TEXT on both. The
 * repositories normalise both into the same TypeScript values.
 */

/** A timestamp column: written as an ISO string, read as a string (SQLite) or a Date (PostgreSQL). */
export type TimestampColumn = ColumnType<string | Date, string, string>;
/** A nullable timestamp column. */
export type NullableTimestampColumn = ColumnType<string | Date | null, string | null, string | null>;
/** A JSON column: serialised text in and out. */
export type JsonColumn = ColumnType<unknown, string, string>;

/** Delivery state of an inbox row: `delivered` means settled, its outcome says how. */
export type InboxStatus = 'pending' | 'delivered' | 'dead';
/**
 * How a settled row ended: `forwarded` reached its workflow; `late` came after its shipment had closed;
 * `ignored` was refused before it reached the workflow (for example a dispatch task shipsync did not create).
 */
export type InboxOutcome = 'forwarded' | 'late' | 'ignored';
/** State of a dead letter. */
export type DeadLetterStatus = 'open' | 'replayed' | 'discarded';
/** Where in the pipeline a dead letter was made: at the webhook (raw vendor body) or at delivery (canonical event). */
/** Where input failed: at webhook intake, at delivery to Temporal, or in an ERP release pass (bad delivery data). */
export type DeadLetterStage = 'intake' | 'delivery' | 'release';

/** Accepted events waiting for (or done with) delivery to Temporal. */
export interface InboxTable {
  id: Generated<number>;
  event_id: string;
  source: string;
  type: string;
  shipment_id: string | null;
  payload: JsonColumn;
  headers: JsonColumn;
  received_at: TimestampColumn;
  status: ColumnType<InboxStatus, InboxStatus | undefined, InboxStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: TimestampColumn;
  lease_owner: string | null;
  lease_until: NullableTimestampColumn;
  delivered_at: NullableTimestampColumn;
  last_error: string | null;
  outcome: InboxOutcome | null;
  outcome_reason: string | null;
}

/** Input that could not be accepted or delivered, kept for inspection and replay. */
export interface DeadLetterTable {
  id: Generated<number>;
  source: string;
  stage: DeadLetterStage;
  event_id: string | null;
  event_type: string | null;
  shipment_id: string | null;
  reason: string;
  code: string;
  payload: string;
  /** SHA-256 of an intake payload, so one unreadable body is kept once while it is open. */
  payload_hash: string | null;
  headers: JsonColumn;
  created_at: TimestampColumn;
  status: ColumnType<DeadLetterStatus, DeadLetterStatus | undefined, DeadLetterStatus>;
  replayed_at: NullableTimestampColumn;
  discarded_at: NullableTimestampColumn;
}

/** High-frequency driver telemetry that never enters a workflow history. */
export interface TelemetryPositionTable {
  id: Generated<number>;
  driver_id: string;
  shipment_id: string | null;
  task_id: string | null;
  lat: number | null;
  lng: number | null;
  drift_seconds: number | null;
  /** Position and drift sealed with the payload keyring (migration 0004); then lat, lng and drift are null. */
  sealed: ColumnType<string | null, string | null | undefined, string | null>;
  at: TimestampColumn;
}

/** Stored responses of the synchronous API by Idempotency-Key. */
export interface IdempotencyKeyTable {
  key: string;
  route: string;
  body_hash: string;
  status_code: number;
  response: JsonColumn;
  created_at: TimestampColumn;
}

/**
 * The audit trail: one row per mutating API call, approval, dead-letter replay or discard and operator
 * action. Rows are only ever inserted; an update is refused by a trigger, and only the retention purge deletes.
 */
export interface AuditLogTable {
  id: Generated<number>;
  at: TimestampColumn;
  principal_id: string;
  /** person or service (API principals), operator (the CLI's OS user). */
  principal_kind: string;
  /** The role the action was allowed under; null when it was refused. */
  role: string | null;
  action: string;
  method: string;
  /** The route pattern (`POST /v1/shipments/:id/reschedule`) or the CLI command (`shipsync reschedule`). */
  route: string;
  shipment_id: string | null;
  /** What else the action was about (a dead letter id). */
  target: string | null;
  idempotency_key: string | null;
  status_code: number;
  /** `ok`, or the error code of the answer. */
  outcome: string;
  /** Small JSON with the action's particulars (an approval's decision and state). */
  detail: string | null;
}

/** The ODS read model of one shipment, projected from its workflow's status query and dispatch events. */
export interface OdsShipmentTable {
  shipment_id: string;
  delivery_id: string | null;
  customer_id: string | null;
  region: string;
  /** The delivery day (the window's start date, UTC) the KPIs group by. */
  day: string;
  phase: string;
  window_start: string | null;
  window_end: string | null;
  /** The committed ETA (the latest the shipment reported). */
  eta: string | null;
  task_id: string | null;
  driver_id: string | null;
  route_id: string | null;
  attempts: number;
  charges: string;
  charges_total: number;
  awaiting_approval: number;
  approvals: string;
  approvals_required: number | null;
  billing_document_id: string | null;
  outcome: string | null;
  workflow_status: string;
  published_at: string | null;
  assigned_at: string | null;
  delivered_at: string | null;
  billed_at: string | null;
  closed_at: string | null;
  updated_at: string;
  /** Derived (see ods-kpis.ts): milliseconds from publication to assignment, and from delivery to billing. */
  acceptance_ms: Generated<number | null>;
  invoice_cycle_ms: Generated<number | null>;
}

/** One delivery attempt (a dispatch stop) of a shipment. */
export interface OdsStopTable {
  shipment_id: string;
  attempt: number;
  task_id: string | null;
  window_start: string | null;
  window_end: string | null;
  /** The last ETA dispatch reported before the driver arrived. */
  planned_eta: string | null;
  first_eta: string | null;
  arrived_at: string | null;
  completed_at: string | null;
  failed_at: string | null;
  failure_reason: string | null;
  /** Derived (see ods-kpis.ts): the shipment's day and region, the ETA error and whether the arrival was on time. */
  day: Generated<string | null>;
  region: Generated<string | null>;
  eta_error_ms: Generated<number | null>;
  on_time: Generated<number | null>;
}

/** A case opened for an exception, with the times it was seen open and resolved. */
export interface OdsCaseTable {
  case_key: string;
  shipment_id: string;
  case_id: string | null;
  kind: string;
  region: string;
  opened_at: string;
  resolved_at: string | null;
  /** Derived (see ods-kpis.ts): the shipment's day and the resolution time. */
  day: Generated<string | null>;
  resolution_ms: Generated<number | null>;
}

/** The timeline: every event applied to the read model, once per event id. */
export interface OdsEventTable {
  event_id: string;
  shipment_id: string;
  type: string;
  at: string;
  detail: string;
}

/** Every table of the store. */
/** One reconciliation run's report header (migration 0007). */
export interface ReconciliationReportTable {
  id: string;
  date: string;
  region: string | null;
  repair: number;
  status: 'running' | 'completed';
  started_at: string;
  finished_at: string | null;
  checked: number;
  in_flight: number;
}

/** One mismatch of a reconciliation report, the mismatch as JSON (migration 0007). */
export interface ReconciliationMismatchTable {
  report_id: string;
  seq: number;
  shipment_id: string;
  kind: string;
  status: string;
  body: string;
}

export interface StoreTables {
  inbox: InboxTable;
  dead_letters: DeadLetterTable;
  telemetry_positions: TelemetryPositionTable;
  idempotency_keys: IdempotencyKeyTable;
  audit_log: AuditLogTable;
  ods_shipments: OdsShipmentTable;
  ods_stops: OdsStopTable;
  ods_cases: OdsCaseTable;
  ods_events: OdsEventTable;
  reconciliation_reports: ReconciliationReportTable;
  reconciliation_mismatches: ReconciliationMismatchTable;
}
