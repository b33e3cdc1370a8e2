import { sql, type Selectable } from 'kysely';
import { toIso, writeTransaction, type Db } from './db.js';
import { refreshDerived } from './ods-kpis.js';
import type { OdsCaseTable, OdsShipmentTable, OdsStopTable } from './schema.js';

/** A shipment as the ODS holds it. */
export interface OdsShipment {
  shipmentId: string;
  deliveryId: string | null;
  customerId: string | null;
  region: string;
  day: string;
  phase: string;
  windowStart: string | null;
  windowEnd: string | null;
  eta: string | null;
  taskId: string | null;
  driverId: string | null;
  routeId: string | null;
  attempts: number;
  charges: unknown[];
  chargesTotal: number;
  awaitingApproval: boolean;
  approvals: unknown[];
  approvalsRequired: number | null;
  billingDocumentId: string | null;
  outcome: string | null;
  workflowStatus: string;
  publishedAt: string | null;
  assignedAt: string | null;
  deliveredAt: string | null;
  billedAt: string | null;
  closedAt: string | null;
  updatedAt: string;
}

/** A delivery attempt (dispatch stop) as the ODS holds it. */
export interface OdsStop {
  shipmentId: string;
  attempt: number;
  taskId: string | null;
  windowStart: string | null;
  windowEnd: string | null;
  plannedEta: string | null;
  firstEta: string | null;
  arrivedAt: string | null;
  completedAt: string | null;
  failedAt: string | null;
  failureReason: string | null;
}

/** A case as the ODS holds it. */
export interface OdsCase {
  caseKey: string;
  shipmentId: string;
  caseId: string | null;
  kind: string;
  region: string;
  openedAt: string;
  resolvedAt: string | null;
}

/** One timeline entry. */
export interface OdsEvent {
  eventId: string;
  shipmentId: string;
  type: string;
  at: string;
  detail: Record<string, unknown>;
}

/** What a stop event changes, keyed by the shipment and attempt it is about. */
export interface StopChange {
  shipmentId: string;
  attempt: number;
  taskId?: string;
  /** A new ETA: kept as the planned ETA until the driver arrives. */
  eta?: string;
  arrivedAt?: string;
  completedAt?: string;
  failedAt?: string;
  failureReason?: string;
  /** Assignment: driver and route of the shipment, and when it was assigned. */
  assigned?: { at: string; driverId: string; routeId?: string };
  /** The window dispatch holds for this attempt (from its task): replaces the one copied from the shipment. */
  window?: { start: string; end: string };
}

const toShipment = (r: Selectable<OdsShipmentTable>): OdsShipment => ({
  shipmentId: r.shipment_id,
  deliveryId: r.delivery_id,
  customerId: r.customer_id,
  region: r.region,
  day: r.day,
  phase: r.phase,
  windowStart: r.window_start,
  windowEnd: r.window_end,
  eta: r.eta,
  taskId: r.task_id,
  driverId: r.driver_id,
  routeId: r.route_id,
  attempts: Number(r.attempts),
  charges: JSON.parse(r.charges) as unknown[],
  chargesTotal: Number(r.charges_total),
  awaitingApproval: Number(r.awaiting_approval) === 1,
  approvals: JSON.parse(r.approvals) as unknown[],
  approvalsRequired: r.approvals_required === null ? null : Number(r.approvals_required),
  billingDocumentId: r.billing_document_id,
  outcome: r.outcome,
  workflowStatus: r.workflow_status,
  publishedAt: r.published_at,
  assignedAt: r.assigned_at,
  deliveredAt: r.delivered_at,
  billedAt: r.billed_at,
  closedAt: r.closed_at,
  updatedAt: r.updated_at,
});

const toStop = (r: Selectable<OdsStopTable>): OdsStop => ({
  shipmentId: r.shipment_id,
  attempt: Number(r.attempt),
  taskId: r.task_id,
  windowStart: r.window_start,
  windowEnd: r.window_end,
  plannedEta: r.planned_eta,
  firstEta: r.first_eta,
  arrivedAt: r.arrived_at,
  completedAt: r.completed_at,
  failedAt: r.failed_at,
  failureReason: r.failure_reason,
});

const toCase = (r: Selectable<OdsCaseTable>): OdsCase => ({
  caseKey: r.case_key,
  shipmentId: r.shipment_id,
  caseId: r.case_id,
  kind: r.kind,
  region: r.region,
  openedAt: r.opened_at,
  resolvedAt: r.resolved_at,
});

/** The shipment columns a projection writes (everything but the times first seen, which are kept). */
export type OdsShipmentUpsert = Omit<
  OdsShipment,
  'publishedAt' | 'assignedAt' | 'deliveredAt' | 'billedAt' | 'closedAt'
> &
  Partial<Pick<OdsShipment, 'publishedAt' | 'assignedAt' | 'deliveredAt' | 'billedAt' | 'closedAt'>> & {
    /** A publication time a vendor recorded: replaces the first-seen one. */
    vendorPublishedAt?: string;
  };

/** Rows per INSERT statement; keeps PostgreSQL under its bind-parameter limit. */
const ROWS_PER_STATEMENT = 200;

/**
 * The operational data store: a read model of shipments, stops, cases and their timeline for the console
 * and the KPIs. It is only ever written from what the workflows report (status queries) and what dispatch
 * sent through the gateway; nothing reads it back into a workflow.
 */
export class OdsRepository {
  constructor(private readonly db: Db) {}

  /** Records timeline events; the ones already recorded (same event id) are left alone. Returns the new ids. */
  async recordEvents(events: readonly OdsEvent[]): Promise<string[]> {
    if (events.length === 0) return [];
    const ids = events.map((e) => e.eventId);
    const known = new Set(
      (
        await this.db.kysely
          .selectFrom('ods_events')
          .select('event_id')
          .where('event_id', 'in', ids)
          .execute()
      ).map((r) => r.event_id),
    );
    const fresh = events.filter((e, i) => !known.has(e.eventId) && ids.indexOf(e.eventId) === i);
    for (let i = 0; i < fresh.length; i += ROWS_PER_STATEMENT) {
      await this.db.kysely
        .insertInto('ods_events')
        .values(
          fresh.slice(i, i + ROWS_PER_STATEMENT).map((e) => ({
            event_id: e.eventId,
            shipment_id: e.shipmentId,
            type: e.type,
            at: e.at,
            detail: JSON.stringify(e.detail),
          })),
        )
        .onConflict((oc) => oc.column('event_id').doNothing())
        .execute();
    }
    return fresh.map((e) => e.eventId);
  }

  /**
   * Applies a dispatch event to its stop once: the event's timeline row is the guard, so a duplicate or a
   * replay of the same event id changes nothing. Returns false for a duplicate.
   */
  async applyStopEvent(event: OdsEvent, change: StopChange): Promise<boolean> {
    return writeTransaction(this.db, async (trx) => {
      const inserted = await trx
        .insertInto('ods_events')
        .values({
          event_id: event.eventId,
          shipment_id: event.shipmentId,
          type: event.type,
          at: event.at,
          detail: JSON.stringify(event.detail),
        })
        .onConflict((oc) => oc.column('event_id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
      const shipment = await trx
        .selectFrom('ods_shipments')
        .select(['window_start', 'window_end'])
        .where('shipment_id', '=', change.shipmentId)
        .executeTakeFirst();
      await trx
        .insertInto('ods_stops')
        .values({
          shipment_id: change.shipmentId,
          attempt: change.attempt,
          task_id: change.taskId ?? null,
          window_start: shipment?.window_start ?? null,
          window_end: shipment?.window_end ?? null,
        })
        .onConflict((oc) => oc.columns(['shipment_id', 'attempt']).doNothing())
        .execute();
      // PostgreSQL: lock the stop so two gateways applying events of one stop do not lose an update
      // (SQLite's BEGIN IMMEDIATE already serialises writers).
      const stop = await trx
        .selectFrom('ods_stops')
        .selectAll()
        .where('shipment_id', '=', change.shipmentId)
        .where('attempt', '=', change.attempt)
        .$if(this.db.backend === 'postgres', (q) => q.forUpdate())
        .executeTakeFirstOrThrow();
      const arrived = stop.arrived_at ?? change.arrivedAt ?? (change.completedAt ? change.completedAt : null);
      await trx
        .updateTable('ods_stops')
        .set({
          task_id: stop.task_id ?? change.taskId ?? null,
          // The ETA that counts is the last one reported before the driver arrived.
          planned_eta: change.eta && !stop.arrived_at ? change.eta : stop.planned_eta,
          first_eta: stop.first_eta ?? change.eta ?? null,
          arrived_at: arrived,
          completed_at: stop.completed_at ?? change.completedAt ?? null,
          failed_at: stop.failed_at ?? change.failedAt ?? null,
          failure_reason: stop.failure_reason ?? change.failureReason ?? null,
          window_start: change.window?.start ?? stop.window_start ?? shipment?.window_start ?? null,
          window_end: change.window?.end ?? stop.window_end ?? shipment?.window_end ?? null,
        })
        .where('shipment_id', '=', change.shipmentId)
        .where('attempt', '=', change.attempt)
        .execute();
      if (change.assigned) {
        await trx
          .updateTable('ods_shipments')
          .set((eb) => ({
            assigned_at: eb.fn.coalesce('assigned_at', eb.val(change.assigned!.at)),
            driver_id: change.assigned!.driverId,
            ...(change.assigned!.routeId ? { route_id: change.assigned!.routeId } : {}),
          }))
          .where('shipment_id', '=', change.shipmentId)
          .execute();
      }
      await refreshDerived(trx, this.db.backend, change.shipmentId);
      return true;
    });
  }

  /** Writes a shipment's projection; the times first seen (published, assigned, ...) keep their first value. */
  async upsertShipment(s: OdsShipmentUpsert): Promise<void> {
    const row = {
      shipment_id: s.shipmentId,
      delivery_id: s.deliveryId,
      customer_id: s.customerId,
      region: s.region,
      day: s.day,
      phase: s.phase,
      window_start: s.windowStart,
      window_end: s.windowEnd,
      eta: s.eta,
      task_id: s.taskId,
      driver_id: s.driverId,
      route_id: s.routeId,
      attempts: s.attempts,
      charges: JSON.stringify(s.charges),
      charges_total: s.chargesTotal,
      awaiting_approval: s.awaitingApproval ? 1 : 0,
      approvals: JSON.stringify(s.approvals),
      approvals_required: s.approvalsRequired,
      billing_document_id: s.billingDocumentId,
      outcome: s.outcome,
      workflow_status: s.workflowStatus,
      published_at: s.vendorPublishedAt ?? s.publishedAt ?? null,
      assigned_at: s.assignedAt ?? null,
      delivered_at: s.deliveredAt ?? null,
      billed_at: s.billedAt ?? null,
      closed_at: s.closedAt ?? null,
      updated_at: s.updatedAt,
    };
    const firstSeen = ['published_at', 'assigned_at', 'delivered_at', 'billed_at', 'closed_at'] as const;
    // One transaction: the row, its stops' windows and the derived columns are written together (on SQLite
    // one commit instead of five, each a sync to disk on the gateway's event loop).
    await writeTransaction(this.db, async (trx) => {
      await trx
        .insertInto('ods_shipments')
        .values(row)
        .onConflict((oc) =>
          oc.column('shipment_id').doUpdateSet(() => {
            const { shipment_id: _id, ...rest } = row;
            const set: Record<string, unknown> = { ...rest };
            const keep = (first: string, then: string) => sql`coalesce(${sql.ref(first)}, ${sql.ref(then)})`;
            for (const c of firstSeen) set[c] = keep(`ods_shipments.${c}`, `excluded.${c}`);
            if (s.vendorPublishedAt) set.published_at = sql.ref('excluded.published_at');
            // A driver known from an assignment event stays when the status does not name one.
            set.driver_id = keep('excluded.driver_id', 'ods_shipments.driver_id');
            set.route_id = keep('excluded.route_id', 'ods_shipments.route_id');
            return set;
          }),
        )
        .execute();
      // Stops not reached yet follow a moved window; stops recorded before the window was known get it now.
      await trx
        .updateTable('ods_stops')
        .set({ window_start: s.windowStart, window_end: s.windowEnd })
        .where('shipment_id', '=', s.shipmentId)
        .where((eb) => eb.or([eb('arrived_at', 'is', null), eb('window_start', 'is', null)]))
        .execute();
      await refreshDerived(trx, this.db.backend, s.shipmentId);
    });
  }

  /**
   * Brings a shipment's cases in line with the ones its status reports open: new ones are opened at `now`,
   * ones no longer reported are resolved at `now`. Returns the case keys opened and resolved.
   */
  async syncCases(
    shipmentId: string,
    region: string,
    open: readonly { caseId?: string; kind: string }[],
    now: string,
  ): Promise<{ opened: string[]; resolved: string[] }> {
    const stored = await this.db.kysely
      .selectFrom('ods_cases')
      .selectAll()
      .where('shipment_id', '=', shipmentId)
      .where('resolved_at', 'is', null)
      .execute();
    const keyOf = (c: { caseId?: string; kind: string }) => `${shipmentId}:${c.caseId ?? c.kind}`;
    const wanted = new Map(open.map((c) => [keyOf(c), c]));
    const fresh = [...wanted].filter(([key]) => !stored.some((s) => s.case_key === key));
    const resolved = stored.filter((s) => !wanted.has(s.case_key)).map((s) => s.case_key);
    const opened: string[] = [];
    if (fresh.length === 0 && resolved.length === 0) return { opened, resolved };
    await writeTransaction(this.db, async (trx) => {
      for (const [key, c] of fresh) {
        const r = await trx
          .insertInto('ods_cases')
          .values({
            case_key: key,
            shipment_id: shipmentId,
            case_id: c.caseId ?? null,
            kind: c.kind,
            region,
            opened_at: now,
          })
          .onConflict((oc) => oc.column('case_key').doNothing())
          .executeTakeFirst();
        if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) opened.push(key);
      }
      if (resolved.length > 0)
        await trx
          .updateTable('ods_cases')
          .set({ resolved_at: now })
          .where('case_key', 'in', resolved)
          .where('resolved_at', 'is', null)
          .execute();
      await refreshDerived(trx, this.db.backend, shipmentId);
    });
    return { opened, resolved };
  }

  /**
   * Cases as the CRM records them (times on the simulated clock): missing ones are inserted, and every one
   * takes the CRM's open and resolve times (a case opened and closed between two projections is counted, with
   * its real times). Returns the cases inserted and those newly resolved, for the timeline.
   */
  async upsertVendorCases(
    shipmentId: string,
    region: string,
    cases: readonly { caseId: string; kind: string; openedAt: string; resolvedAt?: string }[],
  ): Promise<{ opened: OdsCase[]; resolved: OdsCase[] }> {
    const opened: OdsCase[] = [];
    const resolved: OdsCase[] = [];
    if (cases.length === 0) return { opened, resolved };
    await writeTransaction(this.db, async (trx) => {
      for (const c of cases) {
        const key = `${shipmentId}:${c.caseId}`;
        const before = await trx
          .selectFrom('ods_cases')
          .select(['resolved_at'])
          .where('case_key', '=', key)
          .executeTakeFirst();
        const row = {
          case_key: key,
          shipment_id: shipmentId,
          case_id: c.caseId,
          kind: c.kind,
          region,
          opened_at: c.openedAt,
          resolved_at: c.resolvedAt ?? null,
        };
        if (!before) await trx.insertInto('ods_cases').values(row).execute();
        else
          await trx
            .updateTable('ods_cases')
            .set({ opened_at: row.opened_at, resolved_at: row.resolved_at, kind: row.kind })
            .where('case_key', '=', key)
            .execute();
        const ods = toCase({ ...row, day: null, resolution_ms: null });
        if (!before) opened.push(ods);
        if (c.resolvedAt && (!before || before.resolved_at === null)) resolved.push(ods);
      }
      await refreshDerived(trx, this.db.backend, shipmentId);
    });
    return { opened, resolved };
  }

  /** Sets the publication time a vendor recorded (dispatch's task creation), replacing the first-seen one. */
  async setPublishedAt(shipmentId: string, at: string): Promise<void> {
    await writeTransaction(this.db, async (trx) => {
      await trx
        .updateTable('ods_shipments')
        .set({ published_at: at })
        .where('shipment_id', '=', shipmentId)
        .execute();
      await refreshDerived(trx, this.db.backend, shipmentId);
    });
  }

  /** One shipment, or undefined. */
  async shipment(shipmentId: string): Promise<OdsShipment | undefined> {
    const r = await this.db.kysely
      .selectFrom('ods_shipments')
      .selectAll()
      .where('shipment_id', '=', shipmentId)
      .executeTakeFirst();
    return r ? toShipment(r) : undefined;
  }

  /** Shipments, optionally of some days, phases or region; newest window first. */
  async shipments(
    opts: { days?: string[]; phases?: string[]; region?: string; running?: boolean; limit?: number } = {},
  ): Promise<OdsShipment[]> {
    let q = this.db.kysely.selectFrom('ods_shipments').selectAll();
    if (opts.days?.length) q = q.where('day', 'in', opts.days);
    if (opts.phases?.length) q = q.where('phase', 'in', opts.phases);
    if (opts.region) q = q.where('region', '=', opts.region);
    if (opts.running !== undefined) q = q.where('workflow_status', opts.running ? '=' : '!=', 'RUNNING');
    q = q.orderBy('window_start', 'desc').orderBy('shipment_id');
    if (opts.limit) q = q.limit(opts.limit);
    return (await q.execute()).map(toShipment);
  }

  /** Counts by day, region and phase (for the live view), optionally of some days. */
  async phaseCounts(days?: string[]): Promise<{ day: string; region: string; phase: string; n: number }[]> {
    let q = this.db.kysely
      .selectFrom('ods_shipments')
      .select(['day', 'region', 'phase', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['day', 'region', 'phase']);
    if (days?.length) q = q.where('day', 'in', days);
    return (await q.execute()).map((r) => ({ ...r, n: Number(r.n) }));
  }

  /** Stops, optionally of one shipment or of shipments of some days. */
  async stops(
    opts: { shipmentId?: string; days?: string[] } = {},
  ): Promise<(OdsStop & { region: string; day: string })[]> {
    let q = this.db.kysely
      .selectFrom('ods_stops')
      .innerJoin('ods_shipments', 'ods_shipments.shipment_id', 'ods_stops.shipment_id')
      .selectAll('ods_stops')
      .select(['ods_shipments.region', 'ods_shipments.day']);
    if (opts.shipmentId) q = q.where('ods_stops.shipment_id', '=', opts.shipmentId);
    if (opts.days?.length) q = q.where('ods_shipments.day', 'in', opts.days);
    const rows = await q.orderBy('ods_stops.shipment_id').orderBy('ods_stops.attempt').execute();
    return rows.map((r) => ({ ...toStop(r), region: r.region, day: r.day }));
  }

  /** Cases, optionally only open ones, of one shipment or opened on some days; oldest first. */
  async cases(
    opts: { open?: boolean; shipmentId?: string; since?: string; limit?: number } = {},
  ): Promise<OdsCase[]> {
    let q = this.db.kysely.selectFrom('ods_cases').selectAll();
    if (opts.open) q = q.where('resolved_at', 'is', null);
    if (opts.shipmentId) q = q.where('shipment_id', '=', opts.shipmentId);
    if (opts.since) q = q.where('opened_at', '>=', opts.since);
    q = q.orderBy('opened_at').orderBy('case_key');
    if (opts.limit) q = q.limit(opts.limit);
    return (await q.execute()).map(toCase);
  }

  /** Recomputes the derived KPI columns of every row (after rows were written by other means than this class). */
  async refreshKpiColumns(): Promise<void> {
    await refreshDerived(this.db.kysely, this.db.backend);
  }

  /** The phase of each of some shipments (missing ids are left out). */
  async phasesOf(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db.kysely
        .selectFrom('ods_shipments')
        .select(['shipment_id', 'phase'])
        .where('shipment_id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(r.shipment_id, r.phase);
    }
    return out;
  }

  /** A shipment's timeline, oldest first. */
  async events(shipmentId: string, limit = 500): Promise<OdsEvent[]> {
    const rows = await this.db.kysely
      .selectFrom('ods_events')
      .selectAll()
      .where('shipment_id', '=', shipmentId)
      .orderBy('at')
      .orderBy('event_id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      eventId: r.event_id,
      shipmentId: r.shipment_id,
      type: r.type,
      at: r.at,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
    }));
  }

  /**
   * Open cases by kind, and how many of each opened before that kind's SLA cutoff (breached). Counted by the
   * database over the open cases only (index `ods_cases_open_kind`), never by reading them.
   */
  async openCaseCounts(
    breachedBefore: Record<string, string>,
    defaultCutoff: string,
  ): Promise<{ kind: string; open: number; breached: number }[]> {
    const kinds = Object.entries(breachedBefore);
    const cutoff =
      kinds.length === 0
        ? sql`${defaultCutoff}`
        : sql`case ${sql.join(
            kinds.map(([kind, at]) => sql`when kind = ${kind} then ${at}`),
            sql` `,
          )} else ${defaultCutoff} end`;
    const rows = await sql<{ kind: string; open: number | string; breached: number | string }>`
      select kind, count(*) as open, sum(case when opened_at < ${cutoff} then 1 else 0 end) as breached
      from ods_cases where resolved_at is null group by kind order by kind
    `.execute(this.db.kysely);
    return rows.rows.map((r) => ({ kind: r.kind, open: Number(r.open), breached: Number(r.breached ?? 0) }));
  }

  /**
   * One page of open cases, oldest first, each with its shipment's phase; `after` is the last case of the
   * previous page (keyset paging on the open-case index, so a page costs the same at any depth).
   */
  async openCasesPage(opts: {
    limit: number;
    after?: { openedAt: string; caseKey: string };
  }): Promise<(OdsCase & { phase: string | null })[]> {
    let q = this.db.kysely
      .selectFrom('ods_cases')
      .leftJoin('ods_shipments', 'ods_shipments.shipment_id', 'ods_cases.shipment_id')
      .selectAll('ods_cases')
      .select('ods_shipments.phase')
      .where('ods_cases.resolved_at', 'is', null);
    if (opts.after) {
      const { openedAt, caseKey } = opts.after;
      q = q.where((eb) =>
        eb.or([
          eb('ods_cases.opened_at', '>', openedAt),
          eb.and([eb('ods_cases.opened_at', '=', openedAt), eb('ods_cases.case_key', '>', caseKey)]),
        ]),
      );
    }
    const rows = await q
      .orderBy('ods_cases.opened_at')
      .orderBy('ods_cases.case_key')
      .limit(opts.limit)
      .execute();
    return rows.map((r) => ({ ...toCase(r), phase: r.phase ?? null }));
  }

  /** The condition of an invoice-ready shipment: delivered, not yet billed. */
  private invoiceReadyWhere() {
    return sql<boolean>`(awaiting_approval = 1 or (phase in ('delivered', 'billing', 'awaiting_approval') and billing_document_id is null))`;
  }

  /**
   * One page of invoice-ready shipments, oldest delivery first (then by id); `after` is the last row of the
   * previous page. Shipments not yet delivered sort first (an empty delivery time).
   */
  async invoiceReadyPage(opts: {
    limit: number;
    after?: { deliveredAt: string; shipmentId: string };
  }): Promise<OdsShipment[]> {
    const key = sql<string>`coalesce(delivered_at, '')`;
    let q = this.db.kysely.selectFrom('ods_shipments').selectAll().where(this.invoiceReadyWhere());
    if (opts.after) {
      const { deliveredAt, shipmentId } = opts.after;
      q = q.where(
        sql<boolean>`(${key} > ${deliveredAt} or (${key} = ${deliveredAt} and shipment_id > ${shipmentId}))`,
      );
    }
    const rows = await q.orderBy(key).orderBy('shipment_id').limit(opts.limit).execute();
    return rows.map(toShipment);
  }

  /** How many shipments are invoice-ready, and how many of them await finance's approval. */
  async invoiceReadyCounts(): Promise<{ total: number; awaitingApproval: number }> {
    const r = await this.db.kysely
      .selectFrom('ods_shipments')
      .select([
        (eb) => eb.fn.countAll<number>().as('n'),
        sql<number>`sum(case when awaiting_approval = 1 then 1 else 0 end)`.as('approval'),
      ])
      .where(this.invoiceReadyWhere())
      .executeTakeFirstOrThrow();
    return { total: Number(r.n), awaitingApproval: Number(r.approval ?? 0) };
  }

  /** Delivered shipments not yet billed: waiting for finance's approval or for the billing post. */
  async invoiceReady(limit = 500): Promise<OdsShipment[]> {
    const rows = await this.db.kysely
      .selectFrom('ods_shipments')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('awaiting_approval', '=', 1),
          eb.and([
            eb('phase', 'in', ['delivered', 'billing', 'awaiting_approval']),
            eb('billing_document_id', 'is', null),
          ]),
        ]),
      )
      .orderBy('delivered_at')
      .orderBy('shipment_id')
      .limit(limit)
      .execute();
    return rows.map(toShipment);
  }

  /** The shipment ids whose workflow was still running when last projected. */
  async runningIds(): Promise<string[]> {
    const rows = await this.db.kysely
      .selectFrom('ods_shipments')
      .select('shipment_id')
      .where('workflow_status', '=', 'RUNNING')
      .execute();
    return rows.map((r) => r.shipment_id);
  }

  /** Open dead letters by source. */
  async deadLetterCounts(): Promise<Record<string, number>> {
    const rows = await this.db.kysely
      .selectFrom('dead_letters')
      .select(['source', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', '=', 'open')
      .groupBy('source')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.source, Number(r.n)]));
  }

  /** Inbox rows by source and status, with each source's latest receipt: the vendors' webhook health. */
  async inboxBySource(): Promise<
    { source: string; status: string; n: number; lastReceivedAt: string | null }[]
  > {
    const rows = await this.db.kysely
      .selectFrom('inbox')
      .select([
        'source',
        'status',
        (eb) => eb.fn.countAll<number>().as('n'),
        (eb) => eb.fn.max('received_at').as('last'),
      ])
      .groupBy(['source', 'status'])
      .execute();
    return rows.map((r) => ({
      source: r.source,
      status: r.status,
      n: Number(r.n),
      lastReceivedAt: r.last === null || r.last === undefined ? null : toIso(r.last),
    }));
  }

  /** Number of shipments held. */
  async count(): Promise<number> {
    const r = await this.db.kysely
      .selectFrom('ods_shipments')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Empties the read model (before a rebuild). */
  async clear(): Promise<void> {
    await writeTransaction(this.db, async (trx) => {
      for (const t of ['ods_events', 'ods_cases', 'ods_stops', 'ods_shipments'] as const)
        await sql`delete from ${sql.table(t)}`.execute(trx);
    });
  }
}
