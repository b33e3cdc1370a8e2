import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allocatorProblem, allocatorWarning, loadedAllocator } from '../../../src/platform/allocator.js';
import { runEntryPoint, startEntryPoint } from '../../security/support.js';
import { temporalAddress } from '../../support/temporal.js';

const LAUNCHER = fileURLToPath(new URL('../../../bin/with-jemalloc', import.meta.url));

/** Runs `node -e` through the launcher with exactly `env` (plus PATH) and reports the malloc Node got. */
function launch(env: Record<string, string>) {
  const probe =
    "const m = require('fs').readFileSync('/proc/self/maps', 'utf8'); console.log(/libjemalloc/.test(m) ? 'jemalloc' : 'system')";
  const res = spawnSync(LAUNCHER, [process.execPath, '-e', probe], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { code: res.status, stdout: res.stdout.trim(), stderr: res.stderr.trim() };
}

describe('the worker allocator', () => {
  it('when a memory map lists libjemalloc then the process counts as jemalloc, else as system', () => {
    const jemalloc =
      '7f1c2a000000-7f1c2a02c000 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n';
    const glibc = '7f1c2b000000-7f1c2b028000 r--p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6\n';
    expect(loadedAllocator(glibc + jemalloc)).toBe('jemalloc');
    expect(loadedAllocator(glibc)).toBe('system');
  });

  it('when jemalloc is required and not loaded then the worker is refused with one line; auto on glibc only warns', () => {
    expect(allocatorProblem('jemalloc', 'jemalloc')).toBeUndefined();
    expect(allocatorProblem('auto', 'system')).toBeUndefined();
    expect(allocatorProblem('system', 'system')).toBeUndefined();
    expect(allocatorProblem('jemalloc', 'system')).toMatch(/^SHIPSYNC_ALLOCATOR: jemalloc is required/);
    expect(allocatorWarning('auto', 'jemalloc')).toBeUndefined();
    expect(allocatorWarning('system', 'system')).toBeUndefined();
    if (process.platform === 'linux') expect(allocatorWarning('auto', 'system')).toMatch(/glibc's malloc/);
  });

  it('when a process starts through bin/with-jemalloc then it runs on jemalloc, and on glibc with SHIPSYNC_ALLOCATOR=system', () => {
    // CI installs libjemalloc2 (.ci/run), as the image does; without it this fails rather than skips.
    expect(launch({})).toEqual({ code: 0, stdout: 'jemalloc', stderr: '' });
    expect(launch({ SHIPSYNC_ALLOCATOR: 'jemalloc' }).stdout).toBe('jemalloc');
    expect(launch({ SHIPSYNC_ALLOCATOR: 'system' })).toEqual({ code: 0, stdout: 'system', stderr: '' });
  });

  it('when the launcher gets a bad setting then it exits 2 with one line naming the key, running nothing', () => {
    expect(launch({ SHIPSYNC_ALLOCATOR: 'tcmalloc' })).toEqual({
      code: 2,
      stdout: '',
      stderr: "with-jemalloc: SHIPSYNC_ALLOCATOR: expected auto, jemalloc or system, not 'tcmalloc'",
    });
    expect(launch({ SHIPSYNC_JEMALLOC_PATH: '/nowhere/libjemalloc.so.2' })).toEqual({
      code: 2,
      stdout: '',
      stderr: "with-jemalloc: SHIPSYNC_JEMALLOC_PATH: no readable file at '/nowhere/libjemalloc.so.2'",
    });
  });

  it('when a worker that requires jemalloc starts without the launcher then it exits 2 with one line, before connecting', async () => {
    const res = await runEntryPoint('src/workers/main.ts', {
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_ALLOCATOR: 'jemalloc',
      // Nothing listens here: the refusal comes first.
      SHIPSYNC_TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([
      'worker: SHIPSYNC_ALLOCATOR: jemalloc is required but not loaded; install libjemalloc2 and start through bin/with-jemalloc (or set SHIPSYNC_JEMALLOC_PATH)',
    ]);
  });

  it('when a worker starts through the launcher then it runs on jemalloc and says so when it is running', async () => {
    const worker = await startEntryPoint(
      'src/workers/main.ts',
      {
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_ALLOCATOR: 'jemalloc',
        SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress(),
        SHIPSYNC_TASK_QUEUE_PREFIX: 'allocator',
      },
      /workers running/,
      90_000,
      LAUNCHER,
    );
    try {
      const running = worker
        .output()
        .split('\n')
        .find((l) => l.includes('workers running'));
      expect(running).toContain('"allocator":"jemalloc"');
      expect(worker.output()).not.toContain("glibc's malloc");
    } finally {
      await worker.stop();
    }
  }, 120_000);
});
