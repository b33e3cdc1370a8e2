import type { Insertable, Selectable } from 'kysely';
import { fromJsonColumn, toIso, toJsonColumn, writeTransaction, type Db } from './db.js';
import type { InboxStatus, InboxTable } from './schema.js';

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
}

/** Why an inbox row became a dead letter. */
export interface DeadLetterCause {
  code: string;
  reason: string;
}

function rowOf(e: NewInboxEvent): Insertable<InboxTable> {
  return {
    event_id: e.eventId,
    source: e.source,
    type: e.type,
    shipment_id: e.shipmentId ?? null,
    payload: toJsonColumn(e.payload),
    headers: toJsonColumn(e.headers),
    received_at: e.receivedAt,
    next_attempt_at: e.receivedAt,
  };
}

function toRow(r: Selectable<InboxTable>): InboxRow {
  return {
    id: Number(r.id),
    eventId: r.event_id,
    source: r.source as EventSource,
    type: r.type,
    shipmentId: r.shipment_id,
    payload: fromJsonColumn(r.payload),
    headers: fromJsonColumn<Record<string, string>>(r.headers),
    receivedAt: toIso(r.received_at),
    status: r.status,
    attempts: Number(r.attempts),
    nextAttemptAt: toIso(r.next_attempt_at),
    leaseOwner: r.lease_owner,
    leaseUntil: toIso(r.lease_until),
    deliveredAt: toIso(r.delivered_at),
    lastError: r.last_error,
  };
}

/** Postgres rejects NUL characters in text; error messages from anywhere must still fit. */
function safeText(text: string, max = 2000): string {
  return text.replaceAll('\u0000', '').slice(0, max);
}

/**
 * The durable inbox: an event is committed here before its webhook is answered, then a forwarder claims
 * rows under a lease, delivers them to Temporal and marks the outcome. Several gateways may share one
 * PostgreSQL inbox: claims skip rows another gateway holds.
 */
export class InboxRepository {
  constructor(private readonly db: Db) {}

  /** Commits an event; a second event with the same id is a duplicate and changes nothing. */
  async insert(e: NewInboxEvent): Promise<'inserted' | 'duplicate'> {
    const res = await this.db.kysely
      .insertInto('inbox')
      .values(rowOf(e))
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
      .values(events.map(rowOf))
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
   * On PostgreSQL rows locked by a concurrent claim are skipped, so no row is handed to two owners.
   */
  async claimBatch(owner: string, limit: number, leaseMs: number, now = new Date()): Promise<InboxRow[]> {
    const nowIso = now.toISOString();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    let due = this.db.kysely
      .selectFrom('inbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', nowIso)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', nowIso)]))
      .orderBy('id')
      .limit(limit);
    if (this.db.backend === 'postgres') due = due.forUpdate().skipLocked();
    const rows = await this.db.kysely
      .updateTable('inbox')
      .set((eb) => ({ lease_owner: owner, lease_until: until, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.map(toRow).sort((a, b) => a.id - b.id);
  }

  /** Marks a leased row delivered; false when the lease was lost to another owner meanwhile. */
  async markDelivered(id: number, owner: string, now = new Date()): Promise<boolean> {
    const res = await this.db.kysely
      .updateTable('inbox')
      .set({
        status: 'delivered',
        delivered_at: now.toISOString(),
        lease_owner: null,
        lease_until: null,
        last_error: null,
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
      const r = toRow(row);
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
          payload: JSON.stringify(r.payload),
          payload_hash: null,
          headers: toJsonColumn(r.headers),
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

  /** The row of one event id. */
  async get(eventId: string): Promise<InboxRow | undefined> {
    const r = await this.db.kysely
      .selectFrom('inbox')
      .selectAll()
      .where('event_id', '=', eventId)
      .executeTakeFirst();
    return r ? toRow(r) : undefined;
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
    return (await q.execute()).map(toRow);
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
