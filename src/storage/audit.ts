import type { Selectable } from 'kysely';
import { toIso, type Db } from './db.js';
import type { AuditLogTable } from './schema.js';

/** Kinds of principal an audit row names: API principals, or the operating-system user of the CLI. */
export type AuditPrincipalKind = 'person' | 'service' | 'operator';

/** One action to record. */
export interface NewAuditEntry {
  at: string;
  principalId: string;
  principalKind: AuditPrincipalKind;
  /** The role the action was allowed under; omitted when it was refused. */
  role?: string;
  /** What was done, e.g. `charges.approve`, `dead_letter.replay`, `cli.reschedule`. */
  action: string;
  /** HTTP method, or `CLI`. */
  method: string;
  /** Route pattern or CLI command. */
  route: string;
  shipmentId?: string;
  target?: string;
  idempotencyKey?: string;
  statusCode: number;
  /** `ok`, or the error code of the answer. */
  outcome: string;
  detail?: Record<string, unknown>;
}

/** A stored audit row. */
export interface AuditEntry {
  id: number;
  at: string;
  principalId: string;
  principalKind: string;
  role: string | null;
  action: string;
  method: string;
  route: string;
  shipmentId: string | null;
  target: string | null;
  idempotencyKey: string | null;
  statusCode: number;
  outcome: string;
  detail: Record<string, unknown> | null;
}

/** Filters of a listing; `beforeId` pages backwards (newest first). */
export interface AuditQuery {
  shipmentId?: string;
  principalId?: string;
  /** Inclusive lower bound of `at`. */
  from?: string;
  /** Exclusive upper bound of `at`. */
  to?: string;
  beforeId?: number;
  limit?: number;
}

/** Longest text kept in a column: a row is evidence, not a copy of the request. */
const MAX_TEXT = 300;
const clip = (s: string | undefined) => (s === undefined ? null : s.slice(0, MAX_TEXT));

function toEntry(r: Selectable<AuditLogTable>): AuditEntry {
  let detail: Record<string, unknown> | null = null;
  if (r.detail) {
    try {
      detail = JSON.parse(r.detail) as Record<string, unknown>;
    } catch {
      detail = { raw: r.detail };
    }
  }
  return {
    id: Number(r.id),
    at: toIso(r.at),
    principalId: r.principal_id,
    principalKind: r.principal_kind,
    role: r.role,
    action: r.action,
    method: r.method,
    route: r.route,
    shipmentId: r.shipment_id,
    target: r.target,
    idempotencyKey: r.idempotency_key,
    statusCode: Number(r.status_code),
    outcome: r.outcome,
    detail,
  };
}

/**
 * The audit trail: append and read, nothing else. Rows are never updated (the database refuses it), and
 * only `purgeBefore` deletes, for the configured retention; the inbox purge does not touch this table.
 */
export class AuditRepository {
  constructor(private readonly db: Db) {}

  /** Appends one row; returns its id. */
  async append(e: NewAuditEntry): Promise<number> {
    const r = await this.db.kysely
      .insertInto('audit_log')
      .values({
        at: e.at,
        principal_id: e.principalId.slice(0, 100),
        principal_kind: e.principalKind,
        role: e.role ?? null,
        action: e.action.slice(0, 100),
        method: e.method.slice(0, 10),
        route: e.route.slice(0, MAX_TEXT),
        shipment_id: clip(e.shipmentId),
        target: clip(e.target),
        idempotency_key: clip(e.idempotencyKey),
        status_code: e.statusCode,
        outcome: e.outcome.slice(0, 100),
        detail: e.detail ? JSON.stringify(e.detail).slice(0, 4000) : null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(r.id);
  }

  /** Rows newest first, filtered by shipment, principal and time. */
  async list(q: AuditQuery = {}): Promise<AuditEntry[]> {
    let query = this.db.kysely
      .selectFrom('audit_log')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(q.limit ?? 100);
    if (q.shipmentId !== undefined) query = query.where('shipment_id', '=', q.shipmentId);
    if (q.principalId !== undefined) query = query.where('principal_id', '=', q.principalId);
    if (q.from !== undefined) query = query.where('at', '>=', q.from);
    if (q.to !== undefined) query = query.where('at', '<', q.to);
    if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
    return (await query.execute()).map(toEntry);
  }

  /** Deletes rows older than the cut-off (the retention); returns how many went. */
  async purgeBefore(before: Date): Promise<number> {
    const res = await this.db.kysely
      .deleteFrom('audit_log')
      .where('at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
