import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runBenchTool } from './run-tool.js';
const STORED = readdirSync(new URL('../../replay/histories', import.meta.url)).filter((f) =>
  f.endsWith('.json'),
).length;

/** `npm run bench:replay -- <args>`: exit code, stdout and stderr. */
const bench = (args: string[]) => runBenchTool('replay.ts', args, 300_000);

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
