import type { Selectable } from 'kysely';
import type { Mismatch, ReconciliationReport, RepairStatus } from '../domain/reconciliation.js';
import type { Db } from './db.js';
import type { ReconciliationReportTable } from './schema.js';

/** A report header as listed, without its mismatches. */
export type ReconciliationReportSummary = Omit<ReconciliationReport, 'mismatches'> & {
  counts: Record<RepairStatus, number> & { total: number };
};

function header(r: Selectable<ReconciliationReportTable>) {
  return {
    id: r.id,
    date: r.date,
    ...(r.region ? { region: r.region } : {}),
    repair: Number(r.repair) === 1,
    status: r.status,
    startedAt: r.started_at,
    ...(r.finished_at ? { finishedAt: r.finished_at } : {}),
    checked: Number(r.checked),
    inFlight: Number(r.in_flight),
  };
}

/** Reconciliation reports: written by the worker's reconciliation activities, read by the gateway and the CLI. */
export class ReconciliationRepository {
  constructor(private readonly db: Db) {}

  /** Creates the report, or resets one of the same id to running (a retried start). */
  async begin(report: { id: string; date: string; region?: string; repair: boolean; startedAt: string }) {
    const row = {
      id: report.id,
      date: report.date,
      region: report.region ?? null,
      repair: report.repair ? 1 : 0,
      status: 'running' as const,
      started_at: report.startedAt,
      finished_at: null,
      checked: 0,
      in_flight: 0,
    };
    await this.db.kysely
      .insertInto('reconciliation_reports')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ status: 'running', finished_at: null }))
      .execute();
  }

  /** Stores mismatches under their sequence numbers; a page written again overwrites its own rows. */
  async addMismatches(reportId: string, items: { seq: number; mismatch: Mismatch }[]) {
    for (const { seq, mismatch } of items) {
      const row = {
        report_id: reportId,
        seq,
        shipment_id: mismatch.shipmentId,
        kind: mismatch.kind,
        status: mismatch.status,
        body: JSON.stringify(mismatch),
      };
      await this.db.kysely
        .insertInto('reconciliation_mismatches')
        .values(row)
        .onConflict((oc) =>
          oc.columns(['report_id', 'seq']).doUpdateSet({
            shipment_id: row.shipment_id,
            kind: row.kind,
            status: row.status,
            body: row.body,
          }),
        )
        .execute();
    }
  }

  /** Records repair outcomes on stored mismatches. */
  async setStatuses(reportId: string, updates: { seq: number; status: RepairStatus; error?: string }[]) {
    for (const u of updates) {
      const row = await this.db.kysely
        .selectFrom('reconciliation_mismatches')
        .select('body')
        .where('report_id', '=', reportId)
        .where('seq', '=', u.seq)
        .executeTakeFirst();
      if (!row) continue;
      const body = {
        ...(JSON.parse(row.body) as Mismatch),
        status: u.status,
        ...(u.error ? { error: u.error } : {}),
      };
      await this.db.kysely
        .updateTable('reconciliation_mismatches')
        .set({ status: u.status, body: JSON.stringify(body) })
        .where('report_id', '=', reportId)
        .where('seq', '=', u.seq)
        .execute();
    }
  }

  /** Marks the report completed with its totals. */
  async finish(reportId: string, totals: { checked: number; inFlight: number; finishedAt: string }) {
    await this.db.kysely
      .updateTable('reconciliation_reports')
      .set({
        status: 'completed',
        checked: totals.checked,
        in_flight: totals.inFlight,
        finished_at: totals.finishedAt,
      })
      .where('id', '=', reportId)
      .execute();
  }

  /** One report with every mismatch, in the order found; undefined when unknown. */
  async get(reportId: string): Promise<ReconciliationReport | undefined> {
    const r = await this.db.kysely
      .selectFrom('reconciliation_reports')
      .selectAll()
      .where('id', '=', reportId)
      .executeTakeFirst();
    if (!r) return undefined;
    const rows = await this.db.kysely
      .selectFrom('reconciliation_mismatches')
      .select('body')
      .where('report_id', '=', reportId)
      .orderBy('seq')
      .execute();
    return { ...header(r), mismatches: rows.map((m) => JSON.parse(m.body) as Mismatch) };
  }

  /** Reports, newest first, optionally of one day and region, with their counts by repair status. */
  async list(
    q: { date?: string; region?: string; limit?: number } = {},
  ): Promise<ReconciliationReportSummary[]> {
    let query = this.db.kysely.selectFrom('reconciliation_reports').selectAll();
    if (q.date) query = query.where('date', '=', q.date);
    if (q.region) query = query.where('region', '=', q.region);
    const rows = await query
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(q.limit ?? 50)
      .execute();
    const out: ReconciliationReportSummary[] = [];
    for (const r of rows) {
      const statuses = await this.db.kysely
        .selectFrom('reconciliation_mismatches')
        .select(['status'])
        .where('report_id', '=', r.id)
        .execute();
      const counts = { suggested: 0, repaired: 0, repair_failed: 0, operator: 0, total: statuses.length };
      for (const s of statuses) counts[s.status as RepairStatus]++;
      out.push({ ...header(r), counts });
    }
    return out;
  }
}
