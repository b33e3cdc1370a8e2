import type { ExpressionBuilder, Insertable, Kysely, Selectable } from 'kysely';
import { fromJsonColumn, toIso, toJsonColumn, writeTransaction, type Db } from './db.js';
import { plainColumns, type AtRestCipher } from './at-rest.js';
import type { InboxOutcome, InboxStatus, InboxTable, StoreTables } from './schema.js';

/** A system that sends events into the gateway. */
export type EventSource = 'dispatch' | 'crm' | 'erp';

/** An accepted event, as the webhook handler commits it. */
export interface NewInboxEvent {
  eventId: string;
  source: EventSource;
  type: string;
  shipmentId?: string;
  payload: unknown;
  headers: Record<string, string>;
  receivedAt: string;
}

/** One row of the inbox. */
export interface InboxRow {
  id: number;
  eventId: string;
  source: EventSource;
  type: string;
  shipmentId: string | null;
  payload: unknown;
  headers: Record<string, string>;
  receivedAt: string;
  status: InboxStatus;
  attempts: number;
  nextAttemptAt: string;
  leaseOwner: string | null;
  leaseUntil: string | null;
  deliveredAt: string | null;
  lastError: string | null;
  /** How a settled row ended; null while pending and for dead rows. */
  outcome: InboxOutcome | null;
  /** Why a row was late or ignored. */
  outcomeReason: string | null;
}

/** A shipment's events in the inbox, by where they stand. */
export interface ShipmentInboxCounts {
  /** Waiting for delivery. */
  pending: number;
  /** Reached the workflow. */
  forwarded: number;
  /** Arrived after the shipment had closed: kept, not delivered, not dead letters. */
  late: number;
  /** Refused before the workflow, with a reason (for example a task shipsync did not create). */
  ignored: number;
  /** Moved to the dead letters. */
  dead: number;
}

/** Why an inbox row became a dead letter. */
export interface DeadLetterCause {
  code: string;
  reason: string;
}

function rowOf(e: NewInboxEvent, c: AtRestCipher): Insertable<InboxTable> {
  return {
    event_id: e.eventId,
    source: e.source,
    type: e.type,
    shipment_id: e.shipmentId ?? null,
    payload: c.seal(toJsonColumn(e.payload), 'inbox.payload'),
    headers: c.seal(toJsonColumn(e.headers), 'inbox.headers'),
    received_at: e.receivedAt,
    next_attempt_at: e.receivedAt,
  };
}

function toRow(r: Selectable<InboxTable>, c: AtRestCipher): InboxRow {
  return {
    id: Number(r.id),
    eventId: r.event_id,
    source: r.source as EventSource,
    type: r.type,
    shipmentId: r.shipment_id,
    payload: fromJsonColumn(openColumn(c, r.payload, 'inbox.payload')),
    headers: fromJsonColumn<Record<string, string>>(openColumn(c, r.headers, 'inbox.headers')),
    receivedAt: toIso(r.received_at),
    status: r.status,
    attempts: Number(r.attempts),
    nextAttemptAt: toIso(r.next_attempt_at),
    leaseOwner: r.lease_owner,
    leaseUntil: toIso(r.lease_until),
    deliveredAt: toIso(r.delivered_at),
    lastError: r.last_error,
    outcome: r.outcome ?? null,
    outcomeReason: r.outcome_reason ?? null,
  };
}

/** A JSON column's stored value opened (text; a value already parsed is taken as is). */
function openColumn(c: AtRestCipher, value: unknown, column: string): unknown {
  return typeof value === 'string' ? c.open(value, column) : value;
}

/** Postgres rejects NUL characters in text; error messages from anywhere must still fit. */
function safeText(text: string, max = 2000): string {
  return text.replaceAll('\u0000', '').slice(0, max);
}

/** A row the forwarder may take now: pending, due, and leased to no one (or its lease ran out). */
function dueAndFree(nowIso: string) {
  return (eb: ExpressionBuilder<StoreTables & { i: InboxTable }, 'i'>) =>
    eb.and([
      eb('i.status', '=', 'pending'),
      eb('i.next_attempt_at', '<=', nowIso),
      eb.or([eb('i.lease_until', 'is', null), eb('i.lease_until', '<', nowIso)]),
    ]);
}

/**
 * The durable inbox: an event is committed here before its webhook is answered, then a forwarder claims
 * rows under a lease, delivers them to Temporal and marks the outcome. Several gateways may share one
 * PostgreSQL inbox: claims skip rows another gateway holds.
 */
export class InboxRepository {
  /** `cipher` seals the payload and headers columns (personal data at rest); plain by default. */
  constructor(
    private readonly db: Db,
    private readonly cipher: AtRestCipher = plainColumns(),
  ) {}

  /** Commits an event; a second event with the same id is a duplicate and changes nothing. */
  async insert(e: NewInboxEvent): Promise<'inserted' | 'duplicate'> {
    const res = await this.db.kysely
      .insertInto('inbox')
      .values(rowOf(e, this.cipher))
      .onConflict((oc) => oc.column('event_id').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0 ? 'inserted' : 'duplicate';
  }

  /**
   * Commits several events in one statement (one transaction, one fsync on SQLite). Each gets its own
   * outcome; of two events with one id in the batch, the first is inserted and the second a duplicate.
   */
  async insertMany(events: readonly NewInboxEvent[]): Promise<('inserted' | 'duplicate')[]> {
    if (events.length === 0) return [];
    const rows = await this.db.kysely
      .insertInto('inbox')
      .values(events.map((e) => rowOf(e, this.cipher)))
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('event_id')
      .execute();
    const inserted = new Set(rows.map((r) => r.event_id));
    const claimed = new Set<string>();
    return events.map((e) => {
      if (!inserted.has(e.eventId) || claimed.has(e.eventId)) return 'duplicate';
      claimed.add(e.eventId);
      return 'inserted';
    });
  }

  /**
   * Leases up to `limit` due pending rows to `owner` for `leaseMs`, oldest first, and counts the attempt.
   *
   * Receipt order per shipment: a row is claimed only together with every older pending row of its
   * shipment. While an older row waits for its retry or is leased (by anyone, a crashed gateway included,
   * until that lease runs out), the newer rows of that shipment stay where they are. The claim runs in one
   * transaction and checks itself after the update: a row whose older sibling it could not take (another
   * gateway locked or renewed it meanwhile) is released again, so no row overtakes an older one. On
   * PostgreSQL rows locked by a concurrent claim are skipped, so no row is handed to two owners.
   */
  async claimBatch(owner: string, limit: number, leaseMs: number, now = new Date()): Promise<InboxRow[]> {
    const nowIso = now.toISOString();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    return writeTransaction(this.db, async (trx) => {
      let due = trx
        .selectFrom('inbox as i')
        .select('i.id')
        .where(dueAndFree(nowIso))
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('inbox as o')
                .select('o.id')
                .whereRef('o.shipment_id', '=', 'i.shipment_id')
                .whereRef('o.id', '<', 'i.id')
                .where('o.status', '=', 'pending')
                .where((o) => o.or([o('o.next_attempt_at', '>', nowIso), o('o.lease_until', '>=', nowIso)])),
            ),
          ),
        )
        .orderBy('i.id')
        .limit(limit);
      if (this.db.backend === 'postgres') due = due.forUpdate().skipLocked();
      const claimed = await trx
        .updateTable('inbox')
        .set((eb) => ({ lease_owner: owner, lease_until: until, attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', due)
        .returningAll()
        .execute();
      if (claimed.length === 0) return [];
      const ids = claimed.map((r) => Number(r.id));
      const overtaking = await trx
        .selectFrom('inbox as r')
        .select('r.id')
        .where('r.id', 'in', ids)
        .where('r.shipment_id', 'is not', null)
        .where((eb) =>
          eb.exists(
            eb
              .selectFrom('inbox as o')
              .select('o.id')
              .whereRef('o.shipment_id', '=', 'r.shipment_id')
              .whereRef('o.id', '<', 'r.id')
              .where('o.status', '=', 'pending')
              .where('o.id', 'not in', ids),
          ),
        )
        .execute();
      const released = new Set(overtaking.map((r) => Number(r.id)));
      if (released.size > 0) await this.releaseIn(trx, owner, [...released]);
      return claimed
        .filter((r) => !released.has(Number(r.id)))
        .map((r) => toRow(r, this.cipher))
        .sort((a, b) => a.id - b.id);
    });
  }

  /**
   * Leases the one row of `eventId` to `owner` right after its commit, so the gateway can signal it at once.
   * Receipt order per shipment: the row is taken only while no older row of its shipment is pending at all
   * (waiting, retrying or leased); otherwise it stays for the forwarder's claim, which keeps the order.
   * Undefined when the row is not due, is leased already, or waits behind an older one.
   */
  async claimEvent(
    eventId: string,
    owner: string,
    leaseMs: number,
    now = new Date(),
  ): Promise<InboxRow | undefined> {
    const nowIso = now.toISOString();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    const row = await this.db.kysely
      .updateTable('inbox as i')
      .set((eb) => ({ lease_owner: owner, lease_until: until, attempts: eb('i.attempts', '+', 1) }))
      .where('i.event_id', '=', eventId)
      .where(dueAndFree(nowIso))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('inbox as o')
              .select('o.id')
              .whereRef('o.shipment_id', '=', 'i.shipment_id')
              .whereRef('o.id', '<', 'i.id')
              .where('o.status', '=', 'pending'),
          ),
        ),
      )
      .returningAll()
      .executeTakeFirst();
    return row ? toRow(row, this.cipher) : undefined;
  }

  /** Extends the leases `owner` still holds among `ids`; returns the ids it still holds. */
  async renewLeases(
    owner: string,
    ids: readonly number[],
    leaseMs: number,
    now = new Date(),
  ): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.kysely
      .updateTable('inbox')
      .set({ lease_until: new Date(now.getTime() + leaseMs).toISOString() })
      .where('id', 'in', [...ids])
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending')
      .returning('id')
      .execute();
    return rows.map((r) => Number(r.id));
  }

  /** Gives leased rows back untouched (the attempt is not counted), for another claim to take in order. */
  async release(owner: string, ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.releaseIn(this.db.kysely, owner, [...ids]);
  }

  private async releaseIn(db: Kysely<StoreTables>, owner: string, ids: number[]) {
    const res = await db
      .updateTable('inbox')
      .set((eb) => ({ lease_owner: null, lease_until: null, attempts: eb('attempts', '-', 1) }))
      .where('id', 'in', ids)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  /** Marks a leased row delivered to its workflow; false when the lease was lost to another owner meanwhile. */
  async markDelivered(id: number, owner: string, now = new Date()): Promise<boolean> {
    return this.markSettled(id, owner, { outcome: 'forwarded' }, now);
  }

  /**
   * Settles a leased row: forwarded to its workflow, late (its shipment had closed) or ignored (refused
   * before the workflow), with the reason for the last two. Settled rows count as `delivered`: they are
   * done and never retried. False when the lease was lost to another owner meanwhile.
   */
  async markSettled(
    id: number,
    owner: string,
    settled: { outcome: InboxOutcome; reason?: string },
    now = new Date(),
  ): Promise<boolean> {
    const res = await this.db.kysely
      .updateTable('inbox')
      .set({
        status: 'delivered',
        delivered_at: now.toISOString(),
        lease_owner: null,
        lease_until: null,
        last_error: null,
        outcome: settled.outcome,
        outcome_reason: settled.reason !== undefined ? safeText(settled.reason) : null,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Releases a leased row for another attempt at nextAttemptAt, remembering the error. */
  async markRetry(id: number, owner: string, nextAttemptAt: Date, error: string): Promise<boolean> {
    const res = await this.db.kysely
      .updateTable('inbox')
      .set({
        next_attempt_at: nextAttemptAt.toISOString(),
        last_error: safeText(error),
        lease_owner: null,
        lease_until: null,
      })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Marks a leased row dead and records a dead letter with its payload and headers, in one transaction.
   * Returns the dead letter's id, or undefined when the lease was lost.
   */
  async moveToDeadLetter(
    id: number,
    owner: string,
    cause: DeadLetterCause,
    now = new Date(),
  ): Promise<number | undefined> {
    return writeTransaction(this.db, async (trx) => {
      const row = await trx
        .updateTable('inbox')
        .set({
          status: 'dead',
          last_error: safeText(`${cause.code}: ${cause.reason}`),
          lease_owner: null,
          lease_until: null,
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .where('status', '=', 'pending')
        .returningAll()
        .executeTakeFirst();
      if (!row) return undefined;
      const r = toRow(row, this.cipher);
      const inserted = await trx
        .insertInto('dead_letters')
        .values({
          source: r.source,
          stage: 'delivery',
          event_id: r.eventId,
          event_type: r.type,
          shipment_id: r.shipmentId,
          reason: safeText(cause.reason),
          code: cause.code,
          payload: this.cipher.seal(JSON.stringify(r.payload), 'dead_letters.payload'),
          payload_hash: null,
          headers: this.cipher.seal(toJsonColumn(r.headers), 'dead_letters.headers'),
          created_at: now.toISOString(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(inserted.id);
    });
  }

  /** Puts a dead row back in line (a dead-letter replay); false when the row is not dead. */
  async requeue(eventId: string, now = new Date()): Promise<boolean> {
    const res = await this.db.kysely
      .updateTable('inbox')
      .set({
        status: 'pending',
        attempts: 0,
        next_attempt_at: now.toISOString(),
        last_error: null,
        lease_owner: null,
        lease_until: null,
        outcome: null,
        outcome_reason: null,
      })
      .where('event_id', '=', eventId)
      .where('status', '=', 'dead')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Rows waiting for delivery (due now or later). */
  async backlog(): Promise<number> {
    const r = await this.db.kysely
      .selectFrom('inbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'pending')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Row counts by status. */
  async counts(): Promise<Record<InboxStatus, number>> {
    const rows = await this.db.kysely
      .selectFrom('inbox')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    const out: Record<InboxStatus, number> = { pending: 0, delivered: 0, dead: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /** One shipment's events by where they stand (late and ignored ones included). */
  async shipmentCounts(shipmentId: string): Promise<ShipmentInboxCounts> {
    const rows = await this.db.kysely
      .selectFrom('inbox')
      .select(['status', 'outcome', (eb) => eb.fn.countAll<number>().as('n')])
      .where('shipment_id', '=', shipmentId)
      .groupBy(['status', 'outcome'])
      .execute();
    const out: ShipmentInboxCounts = { pending: 0, forwarded: 0, late: 0, ignored: 0, dead: 0 };
    for (const r of rows) {
      const key = r.status === 'delivered' ? (r.outcome ?? 'forwarded') : r.status;
      out[key] += Number(r.n);
    }
    return out;
  }

  /** True when an event of this shipment has reached its workflow before: the shipment existed. */
  async forwardedBefore(shipmentId: string): Promise<boolean> {
    const r = await this.db.kysely
      .selectFrom('inbox')
      .select('id')
      .where('shipment_id', '=', shipmentId)
      .where('status', '=', 'delivered')
      .where((eb) => eb.or([eb('outcome', 'is', null), eb('outcome', '=', 'forwarded')]))
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  /** The row of one event id. */
  async get(eventId: string): Promise<InboxRow | undefined> {
    const r = await this.db.kysely
      .selectFrom('inbox')
      .selectAll()
      .where('event_id', '=', eventId)
      .executeTakeFirst();
    return r ? toRow(r, this.cipher) : undefined;
  }

  /** Rows in id order, optionally of one status or shipment. */
  async list(opts: { status?: InboxStatus; shipmentId?: string; limit?: number } = {}): Promise<InboxRow[]> {
    let q = this.db.kysely
      .selectFrom('inbox')
      .selectAll()
      .orderBy('id')
      .limit(opts.limit ?? 1000);
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.shipmentId) q = q.where('shipment_id', '=', opts.shipmentId);
    return (await q.execute()).map((r) => toRow(r, this.cipher));
  }

  /** Deletes delivered rows older than the cut-off; returns how many went. */
  async purgeDelivered(before: Date): Promise<number> {
    const res = await this.db.kysely
      .deleteFrom('inbox')
      .where('status', '=', 'delivered')
      .where('delivered_at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}

interface PendingInsert {
  event: NewInboxEvent;
  resolve: (outcome: 'inserted' | 'duplicate') => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the inbox: inserts requested while a write is in flight (or within one turn of the
 * event loop) are committed together in one statement, so many concurrent webhooks share one transaction
 * and one fsync. Each caller still learns its own outcome, and only after its row is committed.
 */
export class InboxWriter {
  private pending: PendingInsert[] = [];
  private scheduled = false;
  private writing = false;

  constructor(
    private readonly inbox: InboxRepository,
    private readonly maxBatch = 256,
  ) {}

  /** Commits one event; resolves once it is durable. */
  insert(event: NewInboxEvent): Promise<'inserted' | 'duplicate'> {
    return new Promise((resolve, reject) => {
      this.pending.push({ event, resolve, reject });
      if (!this.scheduled && !this.writing) {
        this.scheduled = true;
        setImmediate(() => void this.write());
      }
    });
  }

  private async write() {
    this.scheduled = false;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        await this.commit(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async commit(batch: PendingInsert[]) {
    try {
      const outcomes = await this.inbox.insertMany(batch.map((p) => p.event));
      batch.forEach((p, i) => p.resolve(outcomes[i]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // One bad row must not fail its neighbours: commit them one by one to find it.
      for (const p of batch) await this.inbox.insert(p.event).then(p.resolve, p.reject);
    }
  }
}
