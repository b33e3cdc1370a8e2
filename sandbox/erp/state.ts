import Database from 'better-sqlite3';
import type { Effect } from '../common/effects.js';
import type { BillingRecord, ConditionRecord, DeliveryRecord, MilestoneRecord } from './entities.js';

/** A stored response to a repeatable request, replayed verbatim when the same request id comes again. */
export interface StoredResponse {
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  at: string;
}

/** Document number ranges and the seed batch counter. */
export interface Counters {
  nextDelivery: number;
  nextBilling: number;
  nextAddress: number;
  nextSalesOrder: number;
  seedBatches: number;
  milestoneSeq: number;
}

type Collection = 'delivery' | 'milestone' | 'billing' | 'repeat' | 'effect' | 'counters' | 'condition';

/** What a running change set changed, to undo it all when one of its changes fails. */
interface Journal {
  /** Undo steps, run in reverse order on rollback. */
  undo: (() => void)[];
  /** Before-images of the map entries the change set read or wrote, by collection and key. */
  before: Map<string, unknown>;
}

/**
 * A map whose entries are remembered as they were before a change set first touched them (read or written),
 * so a change set that fails can be undone: records are changed in place after a `get`, so the before-image
 * is taken on `get` too.
 */
export class JournaledMap<V> extends Map<string, V> {
  constructor(
    private readonly coll: Collection,
    private readonly journal: () => Journal | undefined,
    private readonly persist: (coll: Collection, key: string, value: V | undefined) => void,
  ) {
    super();
  }

  private remember(key: string) {
    const j = this.journal();
    const id = `${this.coll}\u0000${key}`;
    if (!j || j.before.has(id)) return;
    const prev = super.get(key);
    const image = prev === undefined ? undefined : structuredClone(prev);
    j.before.set(id, image);
    j.undo.push(() => {
      const restored = j.before.get(id) as V | undefined;
      if (restored === undefined) super.delete(key);
      else super.set(key, restored);
      this.persist(this.coll, key, restored);
    });
  }

  /** The before-image a running change set keeps of an entry, to change it too (a change that must survive). */
  beforeImage(key: string): V | undefined {
    return this.journal()?.before.get(`${this.coll}\u0000${key}`) as V | undefined;
  }

  override get(key: string): V | undefined {
    this.remember(key);
    return super.get(key);
  }

  override set(key: string, value: V): this {
    // Map's constructor calls set before the fields exist.
    if (this.coll) this.remember(key);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.remember(key);
    return super.delete(key);
  }
}

/**
 * The ERP sandbox's state: deliveries, milestones, billing requests, repeatable-request responses and
 * effects. Held in memory; with a file it is also written through to SQLite (one key-value table) and
 * loaded again at start, so a restarted sandbox keeps its documents and its exactly-once memory.
 */
/** Rules that make the ERP reject writes for good until a user lifts them. */
export interface BusinessRules {
  rejectMilestoneCodes: string[];
  billingBlockReason?: string;
}

export class ErpStore {
  private journal: Journal | undefined;
  private readonly persistEntry = (coll: Collection, key: string, value: unknown) => {
    if (value === undefined)
      this.db?.prepare('DELETE FROM erp_state WHERE coll = ? AND k = ?').run(coll, key);
    else this.write(coll, key, value);
  };
  readonly deliveries = new JournaledMap<DeliveryRecord>('delivery', () => this.journal, this.persistEntry);
  readonly milestones: MilestoneRecord[] = [];
  readonly billing = new JournaledMap<BillingRecord>('billing', () => this.journal, this.persistEntry);
  /** Pricing condition records by record number. */
  readonly conditions = new JournaledMap<ConditionRecord>('condition', () => this.journal, this.persistEntry);
  readonly repeats = new JournaledMap<StoredResponse>('repeat', () => this.journal, this.persistEntry);
  readonly persistedEffects: Effect[] = [];
  /**
   * Business rules a key user set in the ERP (not persisted): milestone codes the custom object's
   * validation refuses, and a billing block on every delivery. Set with POST /__sandbox/business-rules.
   */
  rules: BusinessRules = { rejectMilestoneCodes: [] };
  counters: Counters = {
    nextDelivery: 80_000_001,
    nextBilling: 90_000_001,
    nextAddress: 9_000_000_001,
    nextSalesOrder: 1_000_001,
    seedBatches: 0,
    milestoneSeq: 0,
  };
  private readonly db: Database.Database | undefined;
  private readonly upsert: Database.Statement | undefined;

  constructor(dbFile?: string) {
    if (!dbFile) return;
    this.db = new Database(dbFile);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS erp_state (coll TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL, PRIMARY KEY (coll, k))',
    );
    this.upsert = this.db.prepare(
      'INSERT INTO erp_state (coll, k, v) VALUES (?, ?, ?) ON CONFLICT (coll, k) DO UPDATE SET v = excluded.v',
    );
    const rows = this.db.prepare('SELECT coll, k, v FROM erp_state ORDER BY coll, k').all() as {
      coll: Collection;
      k: string;
      v: string;
    }[];
    for (const row of rows) this.load(row.coll, row.k, JSON.parse(row.v));
    this.milestones.sort((a, b) => a.seq - b.seq);
  }

  private load(coll: Collection, key: string, value: unknown) {
    switch (coll) {
      case 'delivery':
        this.deliveries.set(key, value as DeliveryRecord);
        break;
      case 'milestone':
        this.milestones.push(value as MilestoneRecord);
        break;
      case 'billing':
        this.billing.set(key, value as BillingRecord);
        break;
      case 'repeat':
        this.repeats.set(key, value as StoredResponse);
        break;
      case 'effect':
        this.persistedEffects.push(value as Effect);
        break;
      case 'counters':
        this.counters = value as Counters;
        break;
      case 'condition':
        this.conditions.set(key, value as ConditionRecord);
        break;
    }
  }

  private write(coll: Collection, key: string, value: unknown) {
    this.upsert?.run(coll, key, JSON.stringify(value));
  }

  /** Stores a delivery (new or changed). */
  saveDelivery(rec: DeliveryRecord) {
    const id = String(rec.header.DeliveryDocument);
    this.deliveries.set(id, rec);
    this.write('delivery', id, rec);
  }

  /** Appends a milestone in arrival order. */
  addMilestone(rec: MilestoneRecord) {
    this.onRollback(() => {
      const index = this.milestones.indexOf(rec);
      if (index >= 0) this.milestones.splice(index, 1);
      this.persistEntry('milestone', String(rec.seq).padStart(12, '0'), undefined);
    });
    this.milestones.push(rec);
    this.write('milestone', String(rec.seq).padStart(12, '0'), rec);
  }

  /**
   * Removes a milestone record, as a key user deleting it in the ERP would: its exactly-once memory (the
   * stored repeatable response, the effect count) stays, so a replay of the same request still has no effect.
   */
  removeMilestone(seq: number): boolean {
    const index = this.milestones.findIndex((m) => m.seq === seq);
    if (index < 0) return false;
    this.milestones.splice(index, 1);
    this.db
      ?.prepare('DELETE FROM erp_state WHERE coll = ? AND k = ?')
      .run('milestone', String(seq).padStart(12, '0'));
    return true;
  }

  /** Stores a billing document request. */
  saveBilling(rec: BillingRecord) {
    const id = String(rec.header.BillingDocumentRequest);
    this.billing.set(id, rec);
    this.write('billing', id, rec);
  }

  /** Stores a pricing condition record (new or changed). */
  saveCondition(rec: ConditionRecord) {
    const id = String(rec.wire.ConditionRecord);
    this.conditions.set(id, rec);
    this.write('condition', id, rec);
  }

  /** Remembers the response to a repeatable request. */
  saveRepeat(key: string, resp: StoredResponse) {
    this.repeats.set(key, resp);
    this.write('repeat', key, resp);
  }

  /** Persists an effect's current count. */
  saveEffect(effect: Effect) {
    this.write('effect', `${effect.kind}\u0000${effect.key}`, effect);
  }

  /** Removes an effect from the file (an undone write that had never happened before). */
  forgetEffect(kind: string, key: string) {
    this.persistEntry('effect', `${kind}\u0000${key}`, undefined);
  }

  /** Persists the number ranges. */
  saveCounters() {
    this.write('counters', 'all', this.counters);
  }

  /** Runs several writes as one SQLite transaction (a seed of thousands of deliveries). */
  batch(fn: () => void) {
    if (this.db) this.db.transaction(fn)();
    else fn();
  }

  /** True while a change set runs (its changes are undone if one of them fails). */
  get inChangeset(): boolean {
    return this.journal !== undefined;
  }

  /** Registers a step that undoes a change when the running change set fails (nothing outside one). */
  onRollback(undo: () => void) {
    this.journal?.undo.push(undo);
  }

  /**
   * Runs the changes of one OData change set as a unit: when `fn` throws, every change it made (records,
   * number ranges, stored repeatable answers, effects registered with `onRollback`) is undone, in memory and
   * in the SQLite file, and the error is thrown on.
   */
  changeset<T>(fn: () => T): T {
    if (this.journal) throw new Error('change sets do not nest');
    const journal: Journal = { undo: [], before: new Map() };
    const counters = structuredClone(this.counters);
    journal.undo.push(() => {
      this.counters = counters;
      this.saveCounters();
    });
    this.journal = journal;
    try {
      return this.db ? this.db.transaction(fn)() : fn();
    } catch (err) {
      this.journal = undefined;
      // The SQLite transaction is rolled back already; the undo steps restore memory and write it back.
      for (const undo of journal.undo.reverse()) undo();
      throw err;
    } finally {
      this.journal = undefined;
    }
  }

  /**
   * Changes a delivery in a way that stays even if the running change set fails (another user's change):
   * applied to the record and to the change set's before-image of it.
   */
  changeDurably(rec: DeliveryRecord, change: (rec: DeliveryRecord) => void) {
    change(rec);
    const before = this.deliveries.beforeImage(String(rec.header.DeliveryDocument));
    if (before) change(before);
    this.saveDelivery(rec);
  }

  /** Closes the database file, if any. */
  close() {
    this.db?.close();
  }
}
