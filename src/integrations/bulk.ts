import { setTimeout as sleep } from 'node:timers/promises';
import DataLoader from 'dataloader';

/**
 * How concurrent calls of one vendor operation are coalesced into one bulk request: the first call opens a
 * window of `windowMs`; the calls made meanwhile, up to `maxItems`, go out together when it closes (a full
 * batch goes at once).
 */
export interface BulkOptions {
  /** Most items in one bulk request (the vendor's own limit caps it). */
  maxItems: number;
  /** How long the first call of a batch waits for others; 0 sends what the current tick gathered. */
  windowMs: number;
}

/** The defaults: a few milliseconds are nothing next to a vendor round trip, and gather a burst. */
export const DEFAULT_BULK: BulkOptions = { maxItems: 50, windowMs: 5 };

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
  const loader = new DataLoader<I, R>(
    async (items) => {
      stats.requests++;
      stats.items += items.length;
      const results = await send(items);
      if (results.length !== items.length)
        throw new Error(`bulk call answered ${results.length} result(s) for ${items.length} item(s)`);
      return results;
    },
    {
      cache: false,
      maxBatchSize: maxItems,
      ...(ready
        ? {
            batchScheduleFn: (run) => {
              const window = opts.windowMs > 0 ? sleep(opts.windowMs) : Promise.resolve();
              void window.then(ready).then(run, run);
            },
          }
        : opts.windowMs > 0
          ? { batchScheduleFn: (run) => setTimeout(run, opts.windowMs) }
          : {}),
    },
  );
  return { submit: (item) => loader.load(item), stats };
}
