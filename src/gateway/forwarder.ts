import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ZodError } from 'zod';
import { issuePath } from '../domain/errors.js';
import { parseEvent, type CanonicalEvent } from '../domain/events.js';
import type { AppLogger } from '../platform/logger.js';
import type { InboxRow, Store } from '../storage/store.js';
import type { GatewayMetrics } from './metrics.js';
import { PermanentDeliveryError, TransientDeliveryError, type DeliveryResult } from './temporal.js';

/**
 * Delivers one canonical event and says how it ended (nothing means forwarded); throws
 * PermanentDeliveryError when it never can, anything else to retry.
 */
export type Deliver = (event: CanonicalEvent, row: InboxRow) => Promise<DeliveryResult | void>;

/** Tuning of the forwarder loop. */
export interface ForwarderOptions {
  /** Identifies this process's leases; unique per process. */
  owner?: string;
  /** Rows claimed per pass. */
  batchSize?: number;
  /** Deliveries in flight at once (rows of one shipment are always delivered one after another). */
  concurrency?: number;
  /**
   * How long a claim is held without renewal; the forwarder renews its leases every third of it while it
   * works, so a crashed gateway's rows (and the newer rows of their shipments) wait at most this long.
   */
  leaseMs?: number;
  /** Pause between passes when the inbox has nothing due. */
  idleMs?: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Random spread of a retry delay, as a share of it, so retries of many rows do not arrive together. */
  jitter?: number;
  /**
   * An event Temporal could not take this long after receipt goes to the dead letters. Waiting for a
   * worker never expires: a valid event is not dead-lettered because the workers are down.
   */
  maxRetryAgeMs?: number;
  /**
   * Deliveries in flight at once straight after an inbox commit (`forwardNow`); past it a new event waits
   * for the next pass. 0 turns commit-time forwarding off.
   */
  immediateConcurrency?: number;
  /** The clock (tests move it). */
  now?: () => Date;
}

/** What one pass did. */
export interface PassResult {
  claimed: number;
  /** Settled: forwarded, late or ignored. */
  delivered: number;
  retried: number;
  dead: number;
}

/** The default lease: short, because it is renewed while held and bounds how long a crash holds a shipment. */
export const DEFAULT_LEASE_MS = 6_000;

/** The leases of one pass's rows, renewed while the pass works on them. */
interface Lease {
  /** The row is being settled now: stop renewing it. */
  settling(id: number): void;
  /** True when another owner took the row over. */
  lost(id: number): boolean;
  stop(): Promise<void>;
}

/** Delay before attempt `attempts + 1`: exponential from base, capped, with jitter in [1 - j, 1 + j]. */
export function backoffMs(
  attempts: number,
  base: number,
  max: number,
  jitter = 0,
  random = Math.random,
): number {
  const raw = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  const spread = jitter > 0 ? 1 - jitter + 2 * jitter * random() : 1;
  return Math.max(1, Math.round(Math.min(max, raw * spread)));
}

/** The short text of an error, for the inbox's last_error and the dead letters. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Moves accepted events from the inbox to Temporal: claims due rows under a lease, delivers them (rows of
 * one shipment in order), marks them delivered, schedules a capped exponential retry when Temporal is
 * unavailable, and moves undeliverable events to the dead letters with their reason.
 */
export class Forwarder {
  readonly owner: string;
  private readonly o: Required<Omit<ForwarderOptions, 'owner'>>;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private backlogValue = 0;
  private passCount = 0;
  /** Set by notify(); a notification that arrives during a pass must not be lost while no one sleeps. */
  private notified = false;
  /** Commit-time deliveries in flight. */
  private immediate = new Set<Promise<void>>();
  /** Commit-time deliveries left to a pass (the row waited behind an older one, or a pass had it). */
  private deferred = 0;

  constructor(
    private readonly store: Store,
    private readonly deliver: Deliver,
    private readonly logger: AppLogger,
    private readonly metrics?: GatewayMetrics,
    opts: ForwarderOptions = {},
  ) {
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.o = {
      batchSize: opts.batchSize ?? 64,
      concurrency: opts.concurrency ?? 8,
      leaseMs: opts.leaseMs ?? DEFAULT_LEASE_MS,
      idleMs: opts.idleMs ?? 250,
      baseBackoffMs: opts.baseBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 15_000,
      jitter: opts.jitter ?? 0.2,
      maxRetryAgeMs: opts.maxRetryAgeMs ?? 24 * 3600_000,
      immediateConcurrency: opts.immediateConcurrency ?? 32,
      now: opts.now ?? (() => new Date()),
    };
  }

  /** Inbox rows waiting for delivery, as of the last pass or increment. */
  get backlog(): number {
    return this.backlogValue;
  }

  /** Re-reads the backlog from the store. */
  async refreshBacklog(): Promise<number> {
    this.backlogValue = await this.store.inbox.backlog();
    this.metrics?.backlog.set(this.backlogValue);
    return this.backlogValue;
  }

  /** Tells the loop a new row is waiting, so it delivers without waiting out its idle pause. */
  notify() {
    this.countArrival();
    this.wakeLoop();
  }

  private countArrival() {
    this.backlogValue++;
    this.metrics?.backlog.set(this.backlogValue);
  }

  private wakeLoop() {
    this.notified = true;
    this.wake?.();
  }

  /**
   * Delivers a just-committed event at once instead of waiting for the next pass: the row is leased (only
   * when no older row of its shipment is pending, so receipt order holds) and settled as a pass would. Past
   * `immediateConcurrency` deliveries in flight, or when the row cannot be taken, the loop is woken and
   * the next pass delivers it. Never throws: a failed delivery is scheduled for retry like any other.
   */
  forwardNow(eventId: string) {
    if (!this.running || this.immediate.size >= this.o.immediateConcurrency) {
      this.notify();
      return;
    }
    this.countArrival();
    const done: Promise<void> = this.deliverNow(eventId)
      .catch((err: unknown) => {
        this.logger.warn(
          { err: errorText(err), eventId },
          'commit-time delivery failed; the next pass retries it',
        );
        this.wakeLoop();
      })
      .finally(() => this.immediate.delete(done));
    this.immediate.add(done);
  }

  private async deliverNow(eventId: string) {
    const deferredBefore = this.deferred;
    const row = await this.store.inbox.claimEvent(eventId, this.owner, this.o.leaseMs, this.o.now());
    if (!row) {
      // Behind an older row of its shipment, or taken by a pass already: the loop delivers it in order.
      this.deferred++;
      this.wakeLoop();
      return;
    }
    const result: PassResult = { claimed: 1, delivered: 0, retried: 0, dead: 0 };
    const lease = this.holdLeases([row]);
    try {
      await this.settleGroup([row], result, lease);
    } finally {
      await lease.stop();
    }
    this.backlogValue = Math.max(0, this.backlogValue - result.delivered - result.dead);
    this.metrics?.backlog.set(this.backlogValue);
    // A row deferred meanwhile may wait behind this one (same shipment): a pass takes it now.
    if (this.deferred !== deferredBefore) this.wakeLoop();
  }

  /** Passes run so far. */
  get passes(): number {
    return this.passCount;
  }

  /** True while the loop runs. */
  get started(): boolean {
    return this.running;
  }

  /** Starts the delivery loop. */
  start() {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops the loop after the pass in progress; rows it did not settle are claimed again after their lease. */
  async stop() {
    this.running = false;
    this.wake?.();
    await Promise.all([this.loop, ...this.immediate]);
    this.loop = undefined;
  }

  /** Runs passes until nothing waits for delivery or the timeout passes; returns the backlog left. */
  async drain(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pass = await this.runOnce();
      const left = await this.refreshBacklog();
      if (left === 0 || Date.now() > deadline) return left;
      if (pass.claimed === 0) await new Promise((r) => setTimeout(r, Math.min(100, this.o.idleMs)));
    }
  }

  private async run() {
    while (this.running) {
      let pass: PassResult | undefined;
      try {
        pass = await this.runOnce();
        await this.refreshBacklog();
      } catch (err) {
        this.logger.error({ err: errorText(err) }, 'forwarder pass failed; retrying');
      }
      if (pass && pass.claimed >= this.o.batchSize) continue;
      if (this.notified) {
        this.notified = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.idleMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
      this.notified = false;
    }
  }

  /** Claims one batch and settles every row of it. */
  async runOnce(): Promise<PassResult> {
    this.passCount++;
    const rows = await this.store.inbox.claimBatch(
      this.owner,
      this.o.batchSize,
      this.o.leaseMs,
      this.o.now(),
    );
    const result: PassResult & { halted?: string } = {
      claimed: rows.length,
      delivered: 0,
      retried: 0,
      dead: 0,
    };
    if (rows.length === 0) return result;
    const groups = new Map<string, InboxRow[]>();
    for (const row of rows) {
      const key = row.shipmentId ?? `event:${row.eventId}`;
      groups.set(key, [...(groups.get(key) ?? []), row]);
    }
    const lease = this.holdLeases(rows);
    try {
      const queue = [...groups.values()];
      const workers = Array.from({ length: Math.min(this.o.concurrency, queue.length) }, async () => {
        for (let group = queue.shift(); group; group = queue.shift())
          await this.settleGroup(group, result, lease);
      });
      await Promise.all(workers);
    } finally {
      await lease.stop();
    }
    return {
      claimed: result.claimed,
      delivered: result.delivered,
      retried: result.retried,
      dead: result.dead,
    };
  }

  /**
   * Renews the leases of a pass's rows every third of the lease while the pass works on them. A row
   * whose lease was lost (this process stalled past it and another gateway took over) is not delivered,
   * and neither are the later rows of its shipment.
   */
  private holdLeases(rows: InboxRow[]): Lease {
    const held = new Set(rows.map((r) => r.id));
    const lost = new Set<number>();
    let renewing: Promise<void> | undefined;
    const timer = setInterval(
      () => {
        if (renewing || held.size === 0) return;
        const ids = [...held];
        renewing = this.store.inbox
          .renewLeases(this.owner, ids, this.o.leaseMs, this.o.now())
          .then((kept) => {
            const still = new Set(kept);
            for (const id of ids) {
              if (held.has(id) && !still.has(id)) {
                held.delete(id);
                lost.add(id);
              }
            }
          })
          .catch((err) => this.logger.warn({ err: errorText(err) }, 'could not renew inbox leases'))
          .finally(() => (renewing = undefined));
      },
      Math.max(20, Math.floor(this.o.leaseMs / 3)),
    );
    return {
      settling: (id) => held.delete(id),
      lost: (id) => lost.has(id),
      async stop() {
        clearInterval(timer);
        await renewing;
      },
    };
  }

  /**
   * Delivers one shipment's rows in order. After a transient failure the shipment's later rows are not
   * sent (they would overtake it) but released to wait behind it. When Temporal itself is unavailable the
   * rest of the pass is not sent either but scheduled for the same retry, so an outage costs one timeout
   * per pass rather than one per row; when only a worker is missing, other shipments' signals still go.
   */
  private async settleGroup(rows: InboxRow[], result: PassResult & { halted?: string }, lease: Lease) {
    let blocked = false;
    for (const [i, row] of rows.entries()) {
      if (lease.lost(row.id)) {
        this.logger.warn(
          { eventId: row.eventId, shipmentId: row.shipmentId ?? undefined },
          'inbox lease lost to another gateway; leaving the rest of the shipment to it',
        );
        blocked = true;
      }
      if (blocked) {
        const rest = rows.slice(i).filter((r) => !lease.lost(r.id));
        await this.store.inbox.release(
          this.owner,
          rest.map((r) => r.id),
        );
        for (const r of rest) lease.settling(r.id);
        return;
      }
      if (result.halted !== undefined) {
        await this.retry(row, result.halted, 'temporal', result);
        lease.settling(row.id);
        continue;
      }
      // The lease stays renewed while the row is delivered, however long Temporal takes to answer.
      const outcome = await this.settle(row, result);
      lease.settling(row.id);
      if (outcome.kind !== 'retry') continue;
      if (outcome.scope === 'temporal') result.halted = outcome.error;
      else blocked = true;
    }
  }

  private async settle(
    row: InboxRow,
    result: PassResult,
  ): Promise<{ kind: 'done' } | { kind: 'retry'; scope: 'worker' | 'temporal'; error: string }> {
    let log = this.logger.child({ eventId: row.eventId, shipmentId: row.shipmentId ?? undefined });
    let event: CanonicalEvent;
    try {
      event = parseEvent(row.payload);
    } catch (err) {
      const detail =
        err instanceof ZodError
          ? `${issuePath(err.issues[0]?.path ?? [])}: ${err.issues[0]?.message}`
          : errorText(err);
      await this.dead(
        row,
        'EVENT_SCHEMA_INVALID',
        `stored event no longer matches its schema: ${detail}`,
        result,
        log,
      );
      return { kind: 'done' };
    }
    log = log.child({ correlationId: event.correlationid, type: event.type });
    let delivered: DeliveryResult;
    try {
      delivered = (await this.deliver(event, row)) ?? { outcome: 'forwarded' };
    } catch (err) {
      if (err instanceof PermanentDeliveryError) {
        await this.dead(row, err.code, err.message, result, log);
        return { kind: 'done' };
      }
      const error = errorText(err);
      const scope = err instanceof TransientDeliveryError ? err.scope : 'temporal';
      log.debug({ error, attempts: row.attempts, scope }, 'delivery failed; will retry');
      await this.retry(row, error, scope, result);
      return { kind: 'retry', scope, error };
    }
    const now = this.o.now();
    const settled = await this.store.inbox.markSettled(
      row.id,
      this.owner,
      delivered.outcome === 'forwarded'
        ? { outcome: 'forwarded' }
        : { outcome: delivered.outcome, reason: delivered.reason },
      now,
    );
    if (!settled) return { kind: 'done' };
    result.delivered++;
    if (delivered.outcome === 'forwarded') {
      this.metrics?.forwards.inc({ source: row.source, outcome: 'delivered' });
      this.metrics?.forwardLatency.observe(
        { source: row.source, type: row.type },
        Math.max(0, now.getTime() - Date.parse(row.receivedAt)) / 1000,
      );
      log.debug('event delivered');
    } else {
      this.metrics?.forwards.inc({ source: row.source, outcome: delivered.outcome });
      if (delivered.outcome === 'late') this.metrics?.lateEvents.inc({ source: row.source, type: row.type });
      else this.metrics?.ignoredEvents.inc({ source: row.source, type: row.type });
      log.info(
        { outcome: delivered.outcome, reason: delivered.reason },
        `event ${delivered.outcome}; kept, not delivered`,
      );
    }
    return { kind: 'done' };
  }

  private async retry(row: InboxRow, error: string, scope: 'worker' | 'temporal', result: PassResult) {
    const now = this.o.now();
    if (scope === 'temporal' && now.getTime() - Date.parse(row.receivedAt) > this.o.maxRetryAgeMs) {
      await this.dead(
        row,
        'TEMPORAL_UNAVAILABLE',
        `still undeliverable ${Math.round(this.o.maxRetryAgeMs / 60_000)} minutes after receipt: ${error}`,
        result,
      );
      return;
    }
    const delay = backoffMs(row.attempts, this.o.baseBackoffMs, this.o.maxBackoffMs, this.o.jitter);
    if (await this.store.inbox.markRetry(row.id, this.owner, new Date(now.getTime() + delay), error)) {
      result.retried++;
      this.metrics?.forwards.inc({ source: row.source, outcome: 'retry' });
    }
  }

  private async dead(
    row: InboxRow,
    code: string,
    reason: string,
    result: PassResult,
    log: AppLogger = this.logger.child({ eventId: row.eventId, shipmentId: row.shipmentId ?? undefined }),
  ) {
    log.warn({ code, reason }, 'event undeliverable; moved to the dead letters');
    if (
      (await this.store.inbox.moveToDeadLetter(row.id, this.owner, { code, reason }, this.o.now())) !==
      undefined
    ) {
      result.dead++;
      this.metrics?.forwards.inc({ source: row.source, outcome: 'dead' });
    }
  }
}
