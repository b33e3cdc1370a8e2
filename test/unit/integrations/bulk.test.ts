import { describe, expect, it } from 'vitest';
import { bulkOperation } from '../../../src/integrations/bulk.js';

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
});
