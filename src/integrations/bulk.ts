import { setTimeout as sleep } from 'node:timers/promises';
import DataLoader from 'dataloader';
import type { Config } from '../platform/config.js';

/**
 * How concurrent calls of one vendor operation are coalesced into one bulk request: the first call opens a
 * window of `windowMs`; the calls made meanwhile, up to `maxItems`, go out together when it closes (a full
 * batch goes at once). While `maxInFlight` bulk requests of the operation are out, the next batch keeps
 * gathering until one answers, so the busier the vendor the fuller its requests, with no wait when idle.
 */
export interface BulkOptions {
  /** Most items in one bulk request (the vendor's own limit caps it). */
  maxItems: number;
  /** How long the first call of a batch waits for others; 0 sends what the current tick gathered. */
  windowMs: number;
  /** Bulk requests of one operation out at once (per worker); unlimited when absent. */
  maxInFlight?: number;
  /**
   * Windows close on a clock grid of `windowMs` (multiples of it since the epoch) instead of `windowMs` after
   * a batch's first call. Every operation with the same window then sends at the same instants, so the
   * operations of one adapter go out together (and the jobs they start can be awaited together), and a call
   * waits half a window on average instead of up to a whole one.
   */
  aligned?: boolean;
}

/** The least an aligned window stays open, so a burst of calls spread over a few milliseconds still meets. */
const ALIGNED_MIN_WAIT_MS = 5;

/** How long a batch opened at `now` waits before it goes out. */
export function windowWait(opts: BulkOptions, now = Date.now()): number {
  if (opts.windowMs <= 0) return 0;
  if (!opts.aligned) return opts.windowMs;
  const wait = opts.windowMs - (now % opts.windowMs);
  return wait < Math.min(ALIGNED_MIN_WAIT_MS, opts.windowMs) ? wait + opts.windowMs : wait;
}

/**
 * The bulk options a process's configuration sets (`SHIPSYNC_BULK_*`), with a vendor's own window where it
 * has one (`SHIPSYNC_ERP_BULK_WINDOW_MS`, `SHIPSYNC_CRM_BULK_WINDOW_MS`).
 */
export function bulkFromConfig(config: Config, windowMs = config.SHIPSYNC_BULK_WINDOW_MS): BulkOptions {
  return { maxItems: config.SHIPSYNC_BULK_MAX_ITEMS, windowMs, maxInFlight: config.SHIPSYNC_BULK_IN_FLIGHT };
}

/** The defaults: a few milliseconds are nothing next to a vendor round trip, and gather a burst. */
export const DEFAULT_BULK: BulkOptions = { maxItems: 50, windowMs: 5, maxInFlight: 2 };

/** Counts of what a bulk operation sent, for metrics and the bench. */
export interface BulkStats {
  /** Bulk requests sent. */
  requests: number;
  /** Items they carried. */
  items: number;
}

/** One operation's bulk sender: `submit` resolves with the item's own result or rejects with its own error. */
export interface BulkOperation<I, R> {
  submit(item: I): Promise<R>;
  readonly stats: BulkStats;
}

/**
 * Builds a bulk operation on `send`, which gets the batch's items and returns one entry per item, in order:
 * the item's result, or an Error for that item alone (the other items' calls still resolve). When `send`
 * itself throws (a 429 or an outage of the bulk call), every call of that batch rejects with its error, and
 * each caller's own retry policy decides (Temporal retries each activity on its own). Nothing is cached: a
 * retried call goes out again, and idempotency stays per item.
 *
 * `ready`, when given, is awaited after the window before a batch goes out (e.g. until the adapter's own
 * request pacing has room): calls made meanwhile join the batch, so a paced vendor gets fuller bulk requests
 * instead of more of them.
 */
export function bulkOperation<I, R>(
  send: (items: readonly I[]) => Promise<readonly (R | Error)[]>,
  opts: BulkOptions,
  ready?: () => Promise<void>,
): BulkOperation<I, R> {
  const stats: BulkStats = { requests: 0, items: 0 };
  const maxItems = Math.max(1, Math.floor(opts.maxItems));
  const slots = inFlightLimit(opts.maxInFlight);
  const loader = new DataLoader<I, R>(
    async (items) => {
      stats.requests++;
      stats.items += items.length;
      try {
        const results = await send(items);
        if (results.length !== items.length)
          throw new Error(`bulk call answered ${results.length} result(s) for ${items.length} item(s)`);
        return results;
      } finally {
        slots?.release();
      }
    },
    {
      cache: false,
      maxBatchSize: maxItems,
      ...(ready || slots
        ? {
            batchScheduleFn: (run) => {
              const wait = windowWait(opts);
              const window = wait > 0 ? sleep(wait) : Promise.resolve();
              // A failed readiness check holds nothing back; the slot is always taken before the batch runs.
              void window
                .then(ready)
                .catch(() => undefined)
                .then(() => slots?.acquire())
                .then(run);
            },
          }
        : opts.windowMs > 0
          ? { batchScheduleFn: (run) => setTimeout(run, windowWait(opts)) }
          : {}),
    },
  );
  return { submit: (item) => loader.load(item), stats };
}

/** A counting gate on the bulk requests out at once, first come first served; none when unlimited. */
function inFlightLimit(max: number | undefined) {
  if (max === undefined || !Number.isFinite(max)) return undefined;
  const limit = Math.max(1, Math.floor(max));
  let out = 0;
  const waiting: (() => void)[] = [];
  return {
    acquire(): Promise<void> {
      if (out < limit) {
        out++;
        return Promise.resolve();
      }
      return new Promise((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      // The slot passes straight to the next batch waiting for it.
      if (next) next();
      else out--;
    },
  };
}
