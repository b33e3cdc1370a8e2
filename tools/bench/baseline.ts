import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import getPort from 'get-port';
import { workerCommand } from '../launch.js';
import { taskQueues } from '../../src/workflows/task-queues.js';
import type { BenchOptions } from './args.js';
import {
  allocatorOf,
  busySampler,
  cpuDelta,
  cpuSnapshot,
  mapLimit,
  mib,
  procStatus,
  round,
  scheduleToStart,
  scrape,
  temporalCpu,
} from './measure.js';
import { peakRssBytes } from './stats.js';
import {
  BASELINE_TASK_QUEUE_PREFIX,
  baselinePlan,
  baselineSignal,
  baselineWorkflowId,
  type BaselineInput,
  type BaselineShape,
} from './workflows/contract.js';

/*
 * The bare-Temporal baseline: runs of the same shape as a shipment (activities per task queue, signals,
 * timers) with no I/O behind them, on a worker process of its own.
 */

const BASELINE_WORKER = fileURLToPath(new URL('./baseline-worker.ts', import.meta.url));

/** A running baseline worker process. */
export interface BaselineWorkerHandle {
  child: ChildProcess;
  metricsUrl: string;
  stop(): Promise<void>;
}

export async function startBaselineWorker(client: Client, address: string): Promise<BaselineWorkerHandle> {
  const port = await getPort({ host: '127.0.0.1' });
  // Through bin/with-jemalloc, as the shipment worker starts.
  const [command, args] = workerCommand(['--import', 'tsx', BASELINE_WORKER]);
  const child = spawn(command, args, {
    env: { ...process.env, SHIPSYNC_TEMPORAL_ADDRESS: address, BENCH_BASELINE_METRICS_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the baseline worker exited with code ${child.exitCode}`);
    const res = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueues(BASELINE_TASK_QUEUE_PREFIX).shipments },
      taskQueueType: 1,
    });
    if ((res.pollers ?? []).length > 0) break;
    if (Date.now() > deadline) throw new Error('the baseline worker did not poll within 120 s');
    await sleep(250);
  }
  return {
    child,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Closed workflows of a query, with first start, last close and the sum of state transitions and events. */
export async function closedSummary(client: Client, query: string) {
  let count = 0;
  let firstStart = Infinity;
  let lastClose = 0;
  let transitions = 0;
  let events = 0;
  for await (const wf of client.workflow.list({ query })) {
    count++;
    firstStart = Math.min(firstStart, wf.startTime.getTime());
    lastClose = Math.max(lastClose, wf.closeTime?.getTime() ?? 0);
    transitions += Number(wf.raw.stateTransitionCount ?? 0);
    events += wf.historyLength;
  }
  return { count, firstStart, lastClose, transitions, events, spanSeconds: (lastClose - firstStart) / 1000 };
}

export async function waitForClosed(
  client: Client,
  query: string,
  n: number,
  deadlineMs: number,
  say: (l: string) => void,
  label: string,
) {
  let last = -1;
  for (;;) {
    const { count } = await client.workflow.count(`${query} AND ExecutionStatus != 'Running'`);
    if (count !== last) say(`${label}: closed ${count}/${n}`);
    last = count;
    if (count >= n) return true;
    if (Date.now() > deadlineMs) return false;
    await sleep(500);
  }
}

/** Starts `n` baseline runs at `rate` per second (Infinity: as fast as 64 lanes go). */
export async function startBaselines(client: Client, ids: string[], input: BaselineInput, rate: number) {
  const t0 = Date.now();
  await mapLimit(ids, 64, async (id, i) => {
    const due = t0 + (i / rate) * 1000;
    if (Number.isFinite(due) && due > Date.now()) await sleep(due - Date.now());
    await client.workflow.start('BaselineWorkflow', {
      workflowId: id,
      taskQueue: taskQueues(BASELINE_TASK_QUEUE_PREFIX).shipments,
      args: [input],
    });
  });
}

/** Sends each run its signals, one per `gapMs`, many runs at once. */
export async function signalBaselines(client: Client, ids: string[], signals: number, gapMs: number) {
  await mapLimit(ids, 64, async (id) => {
    const h = client.workflow.getHandle(id);
    for (let k = 0; k < signals; k++) {
      await h.signal(baselineSignal, k);
      if (gapMs > 0) await sleep(gapMs);
    }
  });
}

/** Figures of one batch of closed workflows. */
export interface BatchFigures {
  runs: number;
  closed: number;
  spanSeconds: number;
  completedPerSecond: number;
  stateTransitionsPerSecond: number;
  eventsPerRun: number;
}

export function batchFigures(
  runs: number,
  s: Awaited<ReturnType<typeof closedSummary>>,
  fromMs = s.firstStart,
): BatchFigures {
  const span = (s.lastClose - fromMs) / 1000;
  return {
    runs,
    closed: s.count,
    spanSeconds: round(span, 1) ?? 0,
    completedPerSecond: round(s.count / span) ?? 0,
    stateTransitionsPerSecond: round(s.transitions / span, 1) ?? 0,
    eventsPerRun: round(s.events / Math.max(1, s.count), 1) ?? 0,
  };
}

/** The bare-Temporal baseline of one shape: N runs started at the bench's rate, driven by this process's signals. */
export async function runBaseline(
  client: Client,
  address: string,
  shape: BaselineShape,
  o: BenchOptions,
  say: (l: string) => void,
  serverPid?: number,
) {
  const worker = await startBaselineWorker(client, address);
  const pid = worker.child.pid;
  const named = { 'baseline worker': pid, 'temporal dev server': serverPid };
  try {
    const since = new Date().toISOString();
    const runId = Date.now().toString(36);
    const ids = Array.from({ length: o.shipments }, (_, i) => baselineWorkflowId(runId, i));
    const query = `WorkflowType = 'BaselineWorkflow' AND StartTime >= '${since}'`;
    say(
      `baseline: ${ids.length} runs at ${o.rate}/s on task queues ${BASELINE_TASK_QUEUE_PREFIX}*, shape ${JSON.stringify(shape)}`,
    );
    const cpu0 = cpuSnapshot(named);
    const input: BaselineInput = { shape, taskQueuePrefix: BASELINE_TASK_QUEUE_PREFIX, timerMs: 60_000 };
    const t0 = Date.now();
    const busy = busySampler();
    // Each run gets its signals after its start, 100 ms apart, as a driver works through a stop.
    const driving = mapLimit(ids, 512, async (id, i) => {
      const due = t0 + (i / o.rate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      await startBaselines(client, [id], input, Infinity);
      await signalBaselines(client, [id], shape.signals, 100);
    });
    const done = await waitForClosed(
      client,
      query,
      ids.length,
      Date.now() + o.timeoutSeconds * 1000,
      say,
      'baseline',
    );
    await driving;
    const summary = await closedSummary(client, query);
    const metrics = await scrape(worker.metricsUrl);
    const cpu = cpuDelta(cpu0, cpuSnapshot(named));
    const machineBusy = busy.stop();
    const figures = batchFigures(ids.length, summary);
    return {
      shape,
      plan: baselinePlan(shape).map((s) => `${s.activities.join('+') || '-'}${s.timer ? ' [timer]' : ''}`),
      allClosed: done,
      ...figures,
      scheduleToStartMs: scheduleToStart(metrics),
      workerPeakRssMiB: mib(peakRssBytes(procStatus(pid))),
      workerAllocator: allocatorOf(pid),
      cpuSeconds: cpu,
      machineBusy,
      /** Worker and Temporal server CPU per run: the cost that bounds throughput once the machine is busy. */
      cpuSecondsPerRun: round(
        ((cpu['baseline worker'] ?? 0) + temporalCpu(cpu)) / Math.max(1, summary.count),
        3,
      ),
    };
  } finally {
    await worker.stop();
  }
}
