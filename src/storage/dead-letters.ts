import { createHash } from 'node:crypto';
import { sql, type Selectable } from 'kysely';
import { plainColumns, type AtRestCipher } from './at-rest.js';
import { fromJsonColumn, toIso, toJsonColumn, type Db } from './db.js';
import type { EventSource } from './inbox.js';
import type { DeadLetterStage, DeadLetterStatus, DeadLetterTable } from './schema.js';

/** A dead letter to record. */
export interface NewDeadLetter {
  source: EventSource;
  stage: DeadLetterStage;
  eventId?: string;
  eventType?: string;
  shipmentId?: string;
  reason: string;
  code: string;
  /**
   * The body exactly as received (intake), the canonical event as JSON (delivery), or the ERP's delivery
   * entity as the release pass read it (release).
   */
  payload: string;
  headers: Record<string, string>;
  createdAt: string;
}

/** A stored dead letter. */
export interface DeadLetter {
  id: number;
  source: EventSource;
  stage: DeadLetterStage;
  eventId: string | null;
  eventType: string | null;
  shipmentId: string | null;
  reason: string;
  code: string;
  payload: string;
  headers: Record<string, string>;
  createdAt: string;
  status: DeadLetterStatus;
  replayedAt: string | null;
  discardedAt: string | null;
}

function toDeadLetter(r: Selectable<DeadLetterTable>, c: AtRestCipher): DeadLetter {
  return {
    id: Number(r.id),
    source: r.source as EventSource,
    stage: r.stage,
    eventId: r.event_id,
    eventType: r.event_type,
    shipmentId: r.shipment_id,
    reason: r.reason,
    code: r.code,
    payload: c.open(r.payload, 'dead_letters.payload'),
    headers: fromJsonColumn<Record<string, string>>(
      typeof r.headers === 'string' ? c.open(r.headers, 'dead_letters.headers') : r.headers,
    ),
    createdAt: toIso(r.created_at),
    status: r.status,
    replayedAt: toIso(r.replayed_at),
    discardedAt: toIso(r.discarded_at),
  };
}

/** PostgreSQL text cannot hold NUL; a raw body that has one is kept with the character escaped. */
function storableText(text: string): string {
  return text.replaceAll('\u0000', '\\u0000');
}

/** Input the gateway could not accept or deliver, with everything needed to inspect and replay it. */
export class DeadLetterRepository {
  /** `cipher` seals the payload and headers columns (raw vendor bodies hold personal data); plain by default. */
  constructor(
    private readonly db: Db,
    private readonly cipher: AtRestCipher = plainColumns(),
  ) {}

  /**
   * Records a dead letter; returns its id. An intake or release letter whose body is already held by an open
   * letter of the same source and stage is not stored twice: the existing id is returned.
   */
  async add(d: NewDeadLetter): Promise<number> {
    const payload = storableText(d.payload);
    const deduplicated = d.stage === 'intake' || d.stage === 'release';
    const payloadHash = deduplicated ? createHash('sha256').update(payload).digest('hex') : null;
    const r = await this.db.kysely
      .insertInto('dead_letters')
      .values({
        source: d.source,
        stage: d.stage,
        event_id: d.eventId ?? null,
        event_type: d.eventType ?? null,
        shipment_id: d.shipmentId ?? null,
        reason: storableText(d.reason).slice(0, 2000),
        code: d.code,
        payload: this.cipher.seal(payload, 'dead_letters.payload'),
        payload_hash: payloadHash,
        headers: this.cipher.seal(toJsonColumn(d.headers), 'dead_letters.headers'),
        created_at: d.createdAt,
      })
      .onConflict((oc) =>
        // Literals, not parameters: SQLite matches a partial index only against the same constant predicate.
        oc
          .columns(['source', 'payload_hash'])
          .where('status', '=', sql.lit('open'))
          .where('stage', '=', sql.lit(deduplicated ? d.stage : 'intake'))
          .doNothing(),
      )
      .returning('id')
      .executeTakeFirst();
    if (r) return Number(r.id);
    const existing = await this.db.kysely
      .selectFrom('dead_letters')
      .select('id')
      .where('source', '=', d.source)
      .where('payload_hash', '=', payloadHash)
      .where('status', '=', 'open')
      .where('stage', '=', d.stage)
      .executeTakeFirstOrThrow();
    return Number(existing.id);
  }

  /** Dead letters newest first, optionally filtered; `beforeId` pages backwards. */
  async list(
    opts: { status?: DeadLetterStatus; source?: EventSource; limit?: number; beforeId?: number } = {},
  ): Promise<DeadLetter[]> {
    let q = this.db.kysely
      .selectFrom('dead_letters')
      .selectAll()
      .orderBy('id', 'desc')
      .limit(opts.limit ?? 50);
    if (opts.status) q = q.where('status', '=', opts.status);
    if (opts.source) q = q.where('source', '=', opts.source);
    if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId);
    return (await q.execute()).map((r) => toDeadLetter(r, this.cipher));
  }

  /** One dead letter. */
  async get(id: number): Promise<DeadLetter | undefined> {
    const r = await this.db.kysely
      .selectFrom('dead_letters')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return r ? toDeadLetter(r, this.cipher) : undefined;
  }

  /** Marks an open dead letter replayed; false when it was not open (already replayed or discarded). */
  async markReplayed(id: number, now = new Date()): Promise<boolean> {
    const res = await this.db.kysely
      .updateTable('dead_letters')
      .set({ status: 'replayed', replayed_at: now.toISOString() })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /** Marks an open dead letter discarded; false when it was not open. */
  async discard(id: number, now = new Date()): Promise<boolean> {
    const res = await this.db.kysely
      .updateTable('dead_letters')
      .set({ status: 'discarded', discarded_at: now.toISOString() })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * Deletes replayed and discarded letters settled before the cut-off (the retention); open letters stay
   * until an operator settles them. Returns how many went.
   */
  async purgeSettledBefore(before: Date): Promise<number> {
    const cut = before.toISOString();
    const res = await this.db.kysely
      .deleteFrom('dead_letters')
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'replayed'), eb('replayed_at', '<', cut)]),
          eb.and([eb('status', '=', 'discarded'), eb('discarded_at', '<', cut)]),
        ]),
      )
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Count of dead letters in one status. */
  async count(status: DeadLetterStatus = 'open'): Promise<number> {
    const r = await this.db.kysely
      .selectFrom('dead_letters')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', status)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}
