import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../src/platform/config.js';
import { connectTemporal } from '../../src/platform/temporal-client.js';
import { startTemporalForTests } from '../temporal/postgres.js';
import type { BenchOptions } from './args.js';
import {
  batchFigures,
  closedSummary,
  signalBaselines,
  startBaselines,
  startBaselineWorker,
  waitForClosed,
} from './baseline.js';
import { allocatorOf, cpuSeconds, gitCommit, machine, mib, procStatus, round, rssBytes } from './measure.js';
import { printCurve } from './report.js';
import { peakRssBytes } from './stats.js';
import {
  BASELINE_TASK_QUEUE_PREFIX,
  baselineWorkflowId,
  type BaselineInput,
  type BaselineShape,
} from './workflows/contract.js';

/** The shape the curve uses when no real run measured one: the median shipment of a 500-shipment run. */
export const TYPICAL_SHAPE: BaselineShape = {
  activities: { shipments: 1, erp: 6, dispatch: 2, crm: 1 },
  signals: 4,
  timers: 3,
};

/** Waits until a process has used less than `idleShare` of one core for two seconds in a row. */
async function waitIdle(pid: number | undefined, deadlineMs: number, idleShare = 0.05) {
  let quiet = 0;
  let last = cpuSeconds(pid) ?? 0;
  while (quiet < 2 && Date.now() < deadlineMs) {
    await sleep(1000);
    const now = cpuSeconds(pid) ?? 0;
    quiet = now - last < idleShare ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * Scale curve: at each count, a fresh Temporal server and baseline worker; baseline-shaped runs parked in flight,
 * then all of them (or a sample) released and drained while the rest stay parked.
 */
export async function runCurve(
  o: BenchOptions & { curve: number[] },
  say: (l: string) => void,
): Promise<number> {
  const points = [];
  let ok = true;
  for (const n of o.curve) {
    // Each point on its own server and worker, so runs left parked by one point do not weigh on the next.
    const server = await startTemporalForTests(o.backend, say, undefined, undefined, {
      historyShards: o.historyShards,
    });
    const { client, close } = await connectTemporal({
      SHIPSYNC_TEMPORAL_ADDRESS: server.address,
      SHIPSYNC_TEMPORAL_NAMESPACE: 'default',
    });
    const worker = await startBaselineWorker(client, server.address);
    const pid = worker.child.pid;
    try {
      const since = new Date().toISOString();
      const runId = `${Date.now().toString(36)}c${n}`;
      const ids = Array.from({ length: n }, (_, i) => baselineWorkflowId(runId, i));
      const query = `WorkflowType = 'BaselineWorkflow' AND StartTime >= '${since}'`;
      const input: BaselineInput = {
        shape: TYPICAL_SHAPE,
        taskQueuePrefix: BASELINE_TASK_QUEUE_PREFIX,
        timerMs: 60_000,
        parked: true,
      };
      const cpuA = cpuSeconds(pid) ?? 0;
      const t0 = Date.now();
      say(`curve: parking ${n} runs`);
      await startBaselines(client, ids, input, Infinity);
      const startSeconds = (Date.now() - t0) / 1000;
      await waitIdle(pid, Date.now() + 600_000);
      const rssParked = rssBytes(pid);
      const cpuB = cpuSeconds(pid) ?? 0;
      // Released runs are spread evenly over the parked ones, so a sample is as cold in the cache as the rest.
      const sample = Math.min(n, o.drainSample ?? n);
      const released = ids.filter(
        (_, i) => Math.floor(((i + 1) * sample) / n) > Math.floor((i * sample) / n),
      );
      say(
        `curve: ${n} in flight after ${startSeconds.toFixed(1)} s, worker RSS ${mib(rssParked)} MiB; releasing ${released.length}`,
      );
      const tRelease = Date.now();
      const driving = signalBaselines(client, released, 1 + TYPICAL_SHAPE.signals, 0);
      const done = await waitForClosed(
        client,
        query,
        released.length,
        Date.now() + o.timeoutSeconds * 1000,
        say,
        `curve ${n}`,
      );
      await driving;
      const cpuC = cpuSeconds(pid) ?? 0;
      const s = await closedSummary(client, `${query} AND ExecutionStatus != 'Running'`);
      ok &&= done;
      points.push({
        inFlight: n,
        released: released.length,
        startSeconds: round(startSeconds, 1),
        startsPerSecond: round(n / startSeconds, 1),
        workerRssInFlightMiB: mib(rssParked),
        workerPeakRssMiB: mib(peakRssBytes(procStatus(pid))),
        workerAllocator: allocatorOf(pid),
        drain: batchFigures(released.length, s, tRelease),
        workerCpuMsPerEvent: round(((cpuC - cpuB) * 1000) / Math.max(1, s.events - released.length * 2), 3),
        workerCpuMsPerStart: round(((cpuB - cpuA) * 1000) / n, 3),
      });
    } finally {
      await worker.stop();
      await close();
      await server.stop();
    }
  }
  const report = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    machine: machine(),
    backend: o.backend,
    ...(o.backend === 'postgres' ? { historyShards: o.historyShards } : {}),
    shape: TYPICAL_SHAPE,
    workerConfig: {
      maxCachedWorkflows: loadConfig().SHIPSYNC_WORKER_CACHE_SIZE,
      workflowSlots: loadConfig().SHIPSYNC_WORKER_WORKFLOW_SLOTS,
    },
    note: 'BaselineWorkflow runs parked on a signal (in flight), then all of them or an even sample released with all their signals at once; worker = the baseline worker process; one fresh server and worker per point',
    points,
  };
  if (o.json) console.log(JSON.stringify(report, null, 2));
  else printCurve(points);
  return ok ? 0 : 1;
}
