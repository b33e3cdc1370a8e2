import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);
const STORED = readdirSync(new URL('../../replay/histories', import.meta.url)).filter((f) =>
  f.endsWith('.json'),
).length;

/** `npm run bench:replay -- <args>`: exit code, stdout and stderr. */
async function bench(args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'tools/bench/replay.ts', ...args],
      { cwd: ROOT, timeout: 300_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('bench:replay', () => {
  it('when run then every stored history replays with stack traces on and off, and each round reports CPU per history', async () => {
    const res = await bench(['--rounds', '1', '--repeat', '1', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as {
      storedHistories: number;
      rounds: { stackTraces: boolean; histories: number; cpuMsPerHistory: number }[];
      medians: { stackTracesOn: { cpuMsPerHistory: number }; stackTracesOff: { cpuMsPerHistory: number } };
    };
    expect(out.storedHistories).toBe(STORED);
    expect(out.rounds.map((r) => [r.stackTraces, r.histories])).toEqual([
      [true, STORED],
      [false, STORED],
    ]);
    for (const r of out.rounds) expect(r.cpuMsPerHistory).toBeGreaterThan(0);
    expect(out.medians.stackTracesOff.cpuMsPerHistory).toBe(out.rounds[1]!.cpuMsPerHistory);
  }, 300_000);

  it('when given a round count out of range then it exits 2 with one line', async () => {
    const res = await bench(['--rounds', '0']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toContain('--rounds');
  });
});
