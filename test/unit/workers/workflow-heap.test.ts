import { describe, expect, it } from 'vitest';
import { workflowHeapProblem } from '../../../src/workers/workers.js';
import { runEntryPoint } from '../../security/support.js';

describe('the workflow-thread heap cap', () => {
  it('when no cap is set then any cache is accepted', () => {
    expect(workflowHeapProblem(2000, undefined)).toBeUndefined();
  });

  it('when the cap holds the cache at 0.3 MiB a cached shipment then it is accepted, and one more is refused naming both keys', () => {
    // 512 MiB × 0.75 / 0.3 MiB = 1,280 cached shipments.
    expect(workflowHeapProblem(1280, 512)).toBeUndefined();
    expect(workflowHeapProblem(1281, 512)).toBe(
      'SHIPSYNC_WORKER_HEAP_MB: 512 MiB holds about 1280 cached shipments (0.3 MiB each), not SHIPSYNC_WORKER_CACHE_SIZE 1281; lower the cache or raise the heap',
    );
  });

  it('when a worker starts with a cap too small for its cache then it exits 2 with one line, before connecting to anything', async () => {
    const res = await runEntryPoint('src/workers/main.ts', {
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_WORKER_HEAP_MB: '512',
      // Nothing listens here: the refusal comes first.
      SHIPSYNC_TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([
      'worker: SHIPSYNC_WORKER_HEAP_MB: 512 MiB holds about 1280 cached shipments (0.3 MiB each), not SHIPSYNC_WORKER_CACHE_SIZE 2000; lower the cache or raise the heap',
    ]);
  });

  it('when the cap is below 256 MiB then the worker exits 2 naming the key', async () => {
    const res = await runEntryPoint('src/workers/main.ts', {
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_WORKER_HEAP_MB: '100',
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^worker: SHIPSYNC_WORKER_HEAP_MB: /m);
  });
});
