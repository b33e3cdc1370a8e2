import { describe, expect, it, vi } from 'vitest';
import { bulkOperation, windowWait } from '../../../src/integrations/bulk.js';

/** A vendor's bulk call as the tests see it: every request's items, in order. */
function recorder(answer: (item: number) => string | Error = (n) => `ok-${n}`) {
  const requests: number[][] = [];
  const send = async (items: readonly number[]) => {
    requests.push([...items]);
    return items.map(answer);
  };
  return { requests, send };
}

describe('bulk operation', () => {
  it('when calls arrive within the window then one request carries them and each gets its own result', async () => {
    const vendor = recorder();
    const op = bulkOperation(vendor.send, { maxItems: 50, windowMs: 20 });
    const results = await Promise.all([1, 2, 3].map((n) => op.submit(n)));
    expect(results).toEqual(['ok-1', 'ok-2', 'ok-3']);
    expect(vendor.requests).toEqual([[1, 2, 3]]);
    expect(op.stats).toEqual({ requests: 1, items: 3 });
  });

  it('when more calls arrive than a request may carry then they are split at the limit', async () => {
    const vendor = recorder();
    const op = bulkOperation(vendor.send, { maxItems: 2, windowMs: 5 });
    await Promise.all([1, 2, 3, 4, 5].map((n) => op.submit(n)));
    expect(vendor.requests).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('when one item fails then only its call rejects, and its retry goes out alone', async () => {
    let refuse = true;
    const vendor = recorder((n) => (n === 2 && refuse ? new Error('item 2 refused') : `ok-${n}`));
    const op = bulkOperation(vendor.send, { maxItems: 50, windowMs: 5 });
    const settled = await Promise.allSettled([1, 2, 3].map((n) => op.submit(n)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toEqual(new Error('item 2 refused'));
    refuse = false;
    await expect(op.submit(2)).resolves.toBe('ok-2');
    expect(vendor.requests).toEqual([[1, 2, 3], [2]]);
  });

  it('when the bulk request itself fails then every call of that batch rejects with its error', async () => {
    const op = bulkOperation<number, string>(
      async () => {
        throw new Error('429 Too Many Requests');
      },
      { maxItems: 50, windowMs: 5 },
    );
    const settled = await Promise.allSettled([1, 2].map((n) => op.submit(n)));
    expect(settled.map((s) => (s as PromiseRejectedResult).reason?.message)).toEqual([
      '429 Too Many Requests',
      '429 Too Many Requests',
    ]);
  });

  it('when the vendor answers fewer results than items then every call fails instead of mixing them up', async () => {
    const op = bulkOperation<number, string>(async () => ['only one'], { maxItems: 50, windowMs: 5 });
    const settled = await Promise.allSettled([1, 2].map((n) => op.submit(n)));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
  });

  it('when the window is 0 then the calls of one tick still go together', async () => {
    const vendor = recorder();
    const op = bulkOperation(vendor.send, { maxItems: 50, windowMs: 0 });
    await Promise.all([7, 8].map((n) => op.submit(n)));
    expect(vendor.requests).toEqual([[7, 8]]);
  });

  it('when a ready check holds the batch then calls made meanwhile join it', async () => {
    const vendor = recorder();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const op = bulkOperation(vendor.send, { maxItems: 50, windowMs: 0 }, () => gate);
    const first = op.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const later = [2, 3].map((n) => op.submit(n));
    open();
    expect(await Promise.all([first, ...later])).toEqual(['ok-1', 'ok-2', 'ok-3']);
    expect(vendor.requests).toEqual([[1, 2, 3]]);
  });

  it('when the requests in flight are at the limit then later calls gather into the next request until one answers', async () => {
    const requests: number[][] = [];
    const answers: (() => void)[] = [];
    // The vendor answers only when the test says so.
    const send = (items: readonly number[]) => {
      requests.push([...items]);
      return new Promise<string[]>((resolve) => answers.push(() => resolve(items.map((n) => `ok-${n}`))));
    };
    const op = bulkOperation(send, { maxItems: 50, windowMs: 0, maxInFlight: 1 });
    const first = op.submit(1);
    await vi.waitFor(() => expect(requests).toHaveLength(1));
    const later = [2, 3, 4].map((n) => op.submit(n));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Nothing more goes out while the first request is unanswered.
    expect(requests).toEqual([[1]]);
    answers[0]?.();
    await vi.waitFor(() => expect(requests).toHaveLength(2));
    expect(requests[1]).toEqual([2, 3, 4]);
    answers[1]?.();
    expect(await Promise.all([first, ...later])).toEqual(['ok-1', 'ok-2', 'ok-3', 'ok-4']);
    expect(op.stats).toEqual({ requests: 2, items: 4 });
  });

  it('when a request in flight fails then its slot is freed and the next batch still goes', async () => {
    let calls = 0;
    const send = async (items: readonly number[]) => {
      calls++;
      if (calls === 1) throw new Error('503 Service Unavailable');
      return items.map((n) => `ok-${n}`);
    };
    const op = bulkOperation(send, { maxItems: 50, windowMs: 0, maxInFlight: 1 });
    await expect(op.submit(1)).rejects.toThrow('503');
    expect(await Promise.all([2, 3].map((n) => op.submit(n)))).toEqual(['ok-2', 'ok-3']);
  });

  it('when idle then a lone call goes at once, the in-flight limit adds no wait', async () => {
    const vendor = recorder();
    const op = bulkOperation(vendor.send, { maxItems: 50, windowMs: 0, maxInFlight: 2 });
    for (const n of [1, 2, 3]) await op.submit(n);
    expect(vendor.requests).toEqual([[1], [2], [3]]);
  });

  it('when windows are aligned then a batch waits until the next point of the shared grid, never less than a few ms', () => {
    const opts = { maxItems: 50, windowMs: 2_000, aligned: true };
    expect(windowWait(opts, 10_000)).toBe(2_000);
    expect(windowWait(opts, 10_500)).toBe(1_500);
    expect(windowWait(opts, 11_990)).toBe(10);
    // Too close to the grid point for a burst to meet: the next point.
    expect(windowWait(opts, 11_998)).toBe(2_002);
    expect(windowWait({ ...opts, aligned: false }, 11_998)).toBe(2_000);
    expect(windowWait({ ...opts, windowMs: 0 }, 11_998)).toBe(0);
  });

  it('when two aligned operations are called at different moments of one window then they go out at the same instant', async () => {
    vi.useFakeTimers({ now: 10_010 });
    try {
      const sentAt: Record<string, number> = {};
      const op = (name: string) =>
        bulkOperation(
          async (items: readonly number[]) => {
            sentAt[name] = Date.now();
            return items.map((n) => n);
          },
          { maxItems: 50, windowMs: 200, aligned: true },
        );
      const creates = op('creates');
      const updates = op('updates');
      // Both fall in the window that closes at 10,200: 190 ms and 130 ms before it.
      const first = creates.submit(1);
      await vi.advanceTimersByTimeAsync(60);
      const second = updates.submit(2);
      await vi.advanceTimersByTimeAsync(200);
      await Promise.all([first, second]);
      expect(sentAt).toEqual({ creates: 10_200, updates: 10_200 });
    } finally {
      vi.useRealTimers();
    }
  });
});
