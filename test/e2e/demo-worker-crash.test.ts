import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'shipsync-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the demo survives a worker crash', () => {
  it('when the worker is killed with SIGKILL mid-run and restarted then every shipment still closes and reconciliation is clean', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'tools/demo/main.ts',
        '--json',
        '--shipments',
        '8',
        '--scale',
        '2880',
        '--seed',
        '3',
        '--kill-worker-after',
        '10',
        '--timeout',
        '240',
      ],
      { env: { ...process.env, SHIPSYNC_DATA_DIR: dir }, maxBuffer: 16 * 1024 * 1024, timeout: 280_000 },
    );
    const summary = JSON.parse(stdout);
    expect(summary.workerRestarts).toBe(1);
    expect(summary.closed).toBe(8);
    expect(summary.erp.duplicatePostings).toBe(0);
    expect(summary.reconciliation.mismatches).toEqual([]);
    expect(summary.erp.billingDocuments).toBe(8);
  }, 300_000);
});
