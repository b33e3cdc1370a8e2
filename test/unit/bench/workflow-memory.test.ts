import { describe, expect, it } from 'vitest';
import { runBenchTool } from './run-tool.js';

/** `npm run bench:workflow-memory -- <args>`: exit code, stdout and stderr. */
const probe = (args: string[]) => runBenchTool('workflow-memory.ts', args);

describe('bench:workflow-memory', () => {
  it('when the shipment and baseline bundles are measured then each cached workflow holds heap, and a shipment more than the bare baseline', async () => {
    const [shipments, baseline] = await Promise.all(
      ['shipments', 'baseline'].map(async (bundle) => {
        const res = await probe(['--bundle', bundle, '--workflows', '20', '--json']);
        expect(res.code, res.stderr).toBe(0);
        return JSON.parse(res.stdout) as {
          heapPerWorkflowKiB: number;
          creationMsPerWorkflow: number;
          workflowsPerGiB: number;
          workflows: number;
        };
      }),
    );
    expect(baseline!.workflows).toBe(20);
    expect(baseline!.heapPerWorkflowKiB).toBeGreaterThan(0);
    expect(shipments!.heapPerWorkflowKiB).toBeGreaterThan(baseline!.heapPerWorkflowKiB);
    expect(shipments!.workflowsPerGiB).toBe(Math.floor((1024 * 1024) / shipments!.heapPerWorkflowKiB));
    expect(shipments!.creationMsPerWorkflow).toBeGreaterThan(0);
  }, 180_000);

  it('when shipment runs are also started then each holds its state on top of its modules', async () => {
    const [created, started] = await Promise.all(
      [[], ['--started']].map(async (extra) => {
        const res = await probe(['--workflows', '50', '--json', ...extra]);
        expect(res.code, res.stderr).toBe(0);
        return JSON.parse(res.stdout) as { heapPerWorkflowKiB: number; started: boolean };
      }),
    );
    expect([created!.started, started!.started]).toEqual([false, true]);
    expect(started!.heapPerWorkflowKiB).toBeGreaterThan(created!.heapPerWorkflowKiB);
  }, 180_000);

  it('when the baseline is asked to start runs then it exits 2 with one line', async () => {
    const res = await probe(['--bundle', 'baseline', '--started']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe('bench:workflow-memory: --started: only the shipments bundle starts runs');
  });

  it('when too few workflows are asked for then it exits 2 with one line', async () => {
    const res = await probe(['--workflows', '5']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim()).toBe(
      "bench:workflow-memory: option '--workflows <n>' argument '5' is invalid. --workflows must be an integer from 10 to 5000",
    );
  });
});
