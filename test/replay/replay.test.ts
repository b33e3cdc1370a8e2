import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DefaultLogger,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { workflowBundleOptions } from '../../src/workers/workers.js';

// The negative case fails replay on purpose; its warnings would only be noise.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const dir = fileURLToPath(new URL('./histories', import.meta.url));
const histories = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(readFileSync(join(dir, f), 'utf8'))),
  }));

async function replay(bundle: WorkflowBundleWithSourceMap) {
  const failures: { workflowId: string; error: unknown }[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
    if (result.error) failures.push({ workflowId: result.workflowId, error: result.error });
  }
  return failures;
}

/** A replay of the whole corpus, bundling included: the corpus grows by one era per patch. */
const REPLAY_TIMEOUT_MS = 180_000;

describe('replay of stored shipment histories', () => {
  let current: WorkflowBundleWithSourceMap;
  beforeAll(async () => {
    // The bundle as workers make it.
    current = await bundleWorkflowCode(workflowBundleOptions());
  });

  it('there are stored histories of the lifecycle paths', () => {
    expect(histories.length).toBeGreaterThanOrEqual(8);
  });

  it(
    'when the current workflow code replays every stored history then none diverges',
    async () => {
      expect(await replay(current)).toEqual([]);
    },
    REPLAY_TIMEOUT_MS,
  );

  it(
    'when a change is made without patched() then replay fails with a determinism violation',
    async () => {
      const bundle = await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./fixtures/unpatched-change.ts', import.meta.url)),
      });
      const failures = await replay(bundle);
      expect(failures.length).toBe(histories.length);
      expect(failures.every((f) => f.error instanceof DeterminismViolationError)).toBe(true);
    },
    REPLAY_TIMEOUT_MS,
  );

  it(
    'when the same change is guarded by patched() then every history still replays',
    async () => {
      const bundle = await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./fixtures/patched-change.ts', import.meta.url)),
      });
      expect(await replay(bundle)).toEqual([]);
    },
    REPLAY_TIMEOUT_MS,
  );
});
