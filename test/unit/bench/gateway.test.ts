import { describe, expect, it } from 'vitest';
import { runBenchTool } from './run-tool.js';

/** `npm run bench:gateway -- <args>`: exit code, stdout and stderr. */
const bench = (args: string[]) => runBenchTool('gateway.ts', args);

describe('bench:gateway', () => {
  it('when run then every webhook is answered 200 and committed, and the CPU of each side is reported per webhook', async () => {
    const res = await bench(['--events', '400', '--concurrency', '8', '--backend', 'sqlite', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as {
      statuses: Record<string, number>;
      acceptedPerSecond: number;
      inbox: { pending: number };
      cpuMsPerWebhook: { gateway: number | null; loadGenerator: number | null };
      machineBusyShare: number;
    };
    expect(out.statuses).toEqual({ '200': 400 });
    // The warm-up's 40 webhooks are committed too.
    expect(out.inbox.pending).toBe(440);
    expect(out.acceptedPerSecond).toBeGreaterThan(0);
    expect(out.cpuMsPerWebhook.gateway).toBeGreaterThan(0);
    expect(out.cpuMsPerWebhook.loadGenerator).toBeGreaterThanOrEqual(0);
    expect(out.machineBusyShare).toBeGreaterThan(0);
    expect(out.machineBusyShare).toBeLessThanOrEqual(1);
  });

  it('when run without --json then one line gives the rate, the latency and the CPU of each side', async () => {
    const res = await bench(['--events', '100', '--concurrency', '4', '--backend', 'sqlite']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/100 webhooks at concurrency 4 in \d+ ms = \d+\/s accepted/);
    expect(res.stdout).toMatch(/CPU a webhook: gateway [\d.]+ ms, sender [\d.]+ ms, machine \d+ % busy/);
    expect(res.stdout).toContain('statuses {"200":100}');
  });
});
