import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ZodError } from 'zod';
import { issuePath } from '../domain/errors.js';
import { parseEvent, type CanonicalEvent } from '../domain/events.js';
import type { AppLogger } from '../platform/logger.js';
import type { InboxRow, Store } from '../storage/store.js';
import type { GatewayMetrics } from './metrics.js';
import { PermanentDeliveryError } from './temporal.js';

/** Delivers one canonical event; throws PermanentDeliveryError when it never can, anything else to retry. */
export type Deliver = (event: CanonicalEvent, row: InboxRow) => Promise<void>;

/** Tuning of the forwarder loop. */
export interface ForwarderOptions {
  /** Identifies this process's leases; unique per process. */
  owner?: string;
  /** Rows claimed per pass. */
  batchSize?: number;
  /** Deliveries in flight at once (rows of one shipment are always delivered one after another). */
  concurrency?: number;
  /** How long a claim is held; a crashed gateway's rows are claimed again after it. */
  leaseMs?: number;
  /** Pause between passes when the inbox has nothing due. */
  idleMs?: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Random spread of a retry delay, as a share of it, so retries of many rows do not arrive together. */
  jitter?: number;
  /** An event still undeliverable this long after receipt goes to the dead letters. */
  maxRetryAgeMs?: number;
  /** The clock (tests move it). */
  now?: () => Date;
}

/** What one pass did. */
export interface PassResult {
  claimed: number;
  delivered: number;
  retried: number;
  dead: number;
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
      leaseMs: opts.leaseMs ?? 15_000,
      idleMs: opts.idleMs ?? 250,
      baseBackoffMs: opts.baseBackoffMs ?? 500,
      maxBackoffMs: opts.maxBackoffMs ?? 15_000,
      jitter: opts.jitter ?? 0.2,
      maxRetryAgeMs: opts.maxRetryAgeMs ?? 24 * 3600_000,
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
    this.backlogValue++;
    this.metrics?.backlog.set(this.backlogValue);
    this.notified = true;
    this.wake?.();
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
    await this.loop;
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
    const queue = [...groups.values()];
    const workers = Array.from({ length: Math.min(this.o.concurrency, queue.length) }, async () => {
      for (let group = queue.shift(); group; group = queue.shift()) await this.settleGroup(group, result);
    });
    await Promise.all(workers);
    return {
      claimed: result.claimed,
      delivered: result.delivered,
      retried: result.retried,
      dead: result.dead,
    };
  }

  /**
   * Delivers one shipment's rows in order. After a transient failure (almost always Temporal being down)
   * the rest of the pass is not sent but scheduled for the same retry, so an outage costs one timeout per
   * pass rather than one per row.
   */
  private async settleGroup(rows: InboxRow[], result: PassResult & { halted?: string }) {
    for (const row of rows) {
      if (result.halted !== undefined) {
        await this.retry(row, result.halted, result);
        continue;
      }
      const outcome = await this.settle(row, result);
      if (outcome.kind === 'retry') result.halted = outcome.error;
    }
  }

  private async settle(
    row: InboxRow,
    result: PassResult,
  ): Promise<{ kind: 'done' } | { kind: 'retry'; error: string }> {
    const log = this.logger.child({ eventId: row.eventId, shipmentId: row.shipmentId ?? undefined });
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
      );
      return { kind: 'done' };
    }
    try {
      await this.deliver(event, row);
    } catch (err) {
      if (err instanceof PermanentDeliveryError) {
        log.warn({ code: err.code, reason: err.message }, 'event undeliverable; moved to the dead letters');
        await this.dead(row, err.code, err.message, result);
        return { kind: 'done' };
      }
      const error = errorText(err);
      log.debug({ error, attempts: row.attempts }, 'delivery failed; will retry');
      await this.retry(row, error, result);
      return { kind: 'retry', error };
    }
    const now = this.o.now();
    if (await this.store.inbox.markDelivered(row.id, this.owner, now)) {
      result.delivered++;
      this.metrics?.forwards.inc({ source: row.source, outcome: 'delivered' });
      this.metrics?.forwardLatency.observe(
        { source: row.source, type: row.type },
        Math.max(0, now.getTime() - Date.parse(row.receivedAt)) / 1000,
      );
    }
    return { kind: 'done' };
  }

  private async retry(row: InboxRow, error: string, result: PassResult) {
    const now = this.o.now();
    if (now.getTime() - Date.parse(row.receivedAt) > this.o.maxRetryAgeMs) {
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

  private async dead(row: InboxRow, code: string, reason: string, result: PassResult) {
    if (
      (await this.store.inbox.moveToDeadLetter(row.id, this.owner, { code, reason }, this.o.now())) !==
      undefined
    ) {
      result.dead++;
      this.metrics?.forwards.inc({ source: row.source, outcome: 'dead' });
    }
  }
}
