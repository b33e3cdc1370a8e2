import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import axios from 'axios';
import Database from 'better-sqlite3';
import type { Client } from '@temporalio/client';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { nextServiceWindow } from '../../src/domain/billing.js';
import { simAt } from '../../src/domain/clock.js';
import type { Order } from '../../src/domain/model.js';
import { loadConfig } from '../../src/platform/config.js';
import { REGION_CODES } from '../../sandbox/erp/regions.js';
import { connectTemporal } from '../../src/platform/temporal-client.js';
import { startTemporalForTests } from '../temporal/postgres.js';
import {
  taskQueues,
  shipmentWorkflowId,
  type ShipmentResult,
} from '../../src/workflows/shipment/contract.js';
import {
  BASELINE_TASK_QUEUE_PREFIX,
  baselinePlan,
  baselineSignal,
  baselineWorkflowId,
  type BaselineInput,
  type BaselineShape,
} from './workflows/contract.js';
import { QUEUE_LIMITS } from '../../src/workers/workers.js';
import { reconcile } from '../reconcile.js';
import { freePort, startFullStack, type FullStack } from '../stack.js';

/*
 * `npm run bench -- [--shipments N] [--rate R] [--backend devserver|postgres] [--scale S] [--json]
 *                   [--curve N1,N2,...]`
 * End-to-end benchmark of the whole stack against a bare-Temporal baseline of the same shape; see
 * docs/benchmarks.md for the method.
 */

// ---------------------------------------------------------------------------------------------------------
// Pure helpers (unit-tested)

/** One cumulative Prometheus histogram bucket: observations at or below `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * Sums the cumulative buckets of one histogram over all its label sets (task queues, namespaces...) from
 * Prometheus text exposition.
 */
export function histogramBuckets(text: string, name: string): Bucket[] {
  const sums = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\}\\s+(\\S+)`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const le = /(?:^|,)le="([^"]+)"/.exec(m[1] ?? '')?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    sums.set(bound, (sums.get(bound) ?? 0) + Number(m[2]));
  }
  return [...sums.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** The values of one label (e.g. `task_queue`) that a histogram's buckets carry. */
export function histogramLabelValues(text: string, name: string, label: string): string[] {
  const values = new Set<string>();
  const re = new RegExp(`^${name}_bucket\\{[^}]*\\b${label}="([^"]*)"`);
  for (const line of text.split('\n')) {
    const v = re.exec(line)?.[1];
    if (v !== undefined) values.add(v);
  }
  return [...values].sort();
}

/** Only the exposition lines whose labels include `label="value"`. */
export function linesWithLabel(text: string, label: string, value: string): string {
  return text
    .split('\n')
    .filter((l) => l.includes(`${label}="${value}"`))
    .join('\n');
}

/**
 * The q-quantile estimated from cumulative buckets as PromQL's histogram_quantile does: linear
 * interpolation inside the bucket holding the rank; the highest finite bound when it falls in +Inf.
 * Undefined when there are no observations.
 */
export function histogramQuantile(buckets: Bucket[], q: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0 || q < 0 || q > 1) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** The q-quantile of raw samples by nearest rank (the smallest value with at least q of the samples at or below it). */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Milliseconds of an OData V2 `/Date(1700000000000+0000)/` value (or an ISO string); NaN otherwise. */
export function parseODataDate(value: string): number {
  const m = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(value);
  return m ? Number(m[1]) : Date.parse(value);
}

/** Peak resident set size in bytes from the text of `/proc/<pid>/status` (VmHWM), or undefined. */
export function peakRssBytes(status: string): number | undefined {
  const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** The minimal view of a history event the shape count needs. */
export interface HistoryEventView {
  activityTaskScheduledEventAttributes?: { taskQueue?: { name?: string | null } | null } | null;
  workflowExecutionSignaledEventAttributes?: unknown;
  timerStartedEventAttributes?: unknown;
}

/** Counts a history's activities (by task queue of the given prefix), signals and timers. */
export function shapeOf(events: readonly HistoryEventView[], prefix = ''): BaselineShape {
  const q = taskQueues(prefix);
  const shape: BaselineShape = {
    activities: { shipments: 0, erp: 0, dispatch: 0, crm: 0 },
    signals: 0,
    timers: 0,
  };
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const name = scheduled.taskQueue?.name ?? q.shipments;
      const key = (['erp', 'dispatch', 'crm'] as const).find((k) => q[k] === name) ?? 'shipments';
      shape.activities[key]++;
    }
    if (e.workflowExecutionSignaledEventAttributes) shape.signals++;
    if (e.timerStartedEventAttributes) shape.timers++;
  }
  return shape;
}

/** The per-field median of several shapes, so one unusual shipment does not set the baseline. */
export function medianShape(shapes: readonly BaselineShape[]): BaselineShape {
  const med = (pick: (s: BaselineShape) => number) => Math.round(percentile(shapes.map(pick), 0.5) ?? 0);
  return {
    activities: {
      shipments: med((s) => s.activities.shipments),
      erp: med((s) => s.activities.erp),
      dispatch: med((s) => s.activities.dispatch),
      crm: med((s) => s.activities.crm),
    },
    signals: med((s) => s.signals),
    timers: med((s) => s.timers),
  };
}

/** Which ERP milestone a dispatch event causes. */
export const EVENT_MILESTONE: Readonly<Record<string, string>> = {
  'route.assigned.v1': 'PLANNED',
  'stop.started.v1': 'DISPATCHED',
  'delivery.completed.v1': 'DELIVERED',
  'delivery.failed.v1': 'FAILED_ATTEMPT',
};

/**
 * Latencies (ms) from the gateway's receipt of a dispatch event to the ERP's write of the milestone it
 * caused: per shipment and event type, each event (in receipt order) pairs with the earliest not yet
 * paired milestone of the matching code written at or after it. Events that caused no milestone (a stale
 * or out-of-order one) pair with nothing when no later milestone is left.
 */
export function eventToMilestoneLatencies(
  events: readonly { shipmentId: string; type: string; receivedAtMs: number }[],
  milestones: ReadonlyMap<string, readonly { milestone: string; receivedAtMs: number }[]>,
): { type: string; ms: number }[] {
  const out: { type: string; ms: number }[] = [];
  const used = new Set<string>();
  const sortedEvents = [...events].sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  for (const e of sortedEvents) {
    const code = EVENT_MILESTONE[e.type];
    const list = milestones.get(e.shipmentId);
    if (!code || !list) continue;
    let best = -1;
    for (const [i, m] of list.entries()) {
      if (m.milestone !== code || used.has(`${e.shipmentId}#${i}`) || m.receivedAtMs < e.receivedAtMs)
        continue;
      if (best < 0 || m.receivedAtMs < (list[best]?.receivedAtMs ?? Infinity)) best = i;
    }
    if (best < 0) continue;
    used.add(`${e.shipmentId}#${best}`);
    out.push({ type: e.type, ms: (list[best]?.receivedAtMs ?? 0) - e.receivedAtMs });
  }
  return out;
}

/** Parses a comma-separated list of positive integers such as `1000,5000`. */
export function parseCounts(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 100_000)) {
    throw new InvalidArgumentError(
      'expected a comma-separated list of integers from 1 to 100000, e.g. 1000,5000',
    );
  }
  return parts.map(Number);
}

// ---------------------------------------------------------------------------------------------------------
// Process measurements

const CLK_TCK = 100;

/** User + system CPU seconds a process has used so far (Linux /proc), or undefined when it is gone. */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function procStatus(pid: number | undefined): string {
  try {
    return pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  } catch {
    return '';
  }
}

function rssBytes(pid: number | undefined): number | undefined {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(procStatus(pid))?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

const mib = (bytes: number | undefined) => (bytes === undefined ? undefined : Math.round(bytes / 1048576));
const round = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 10 ** digits) / 10 ** digits;
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** p50/p99 of raw samples in ms. */
function p50p99(values: number[]) {
  return {
    p50: round(percentile(values, 0.5)),
    p99: round(percentile(values, 0.99)),
    samples: values.length,
  };
}

/** p50/p99 in ms of a Prometheus histogram that the SDK exports in milliseconds. */
function histogramP50P99(text: string, name: string) {
  const b = histogramBuckets(text, name);
  return {
    p50: round(histogramQuantile(b, 0.5)),
    p99: round(histogramQuantile(b, 0.99)),
    samples: b.at(-1)?.count ?? 0,
  };
}

/** Workflow-task and activity schedule-to-start p50/p99, overall and per task queue. */
function scheduleToStart(text: string) {
  const wf = 'temporal_workflow_task_schedule_to_start_latency';
  const act = 'temporal_activity_schedule_to_start_latency';
  const byQueue = (name: string) =>
    Object.fromEntries(
      histogramLabelValues(text, name, 'task_queue').map((q) => [
        q,
        histogramP50P99(linesWithLabel(text, 'task_queue', q), name),
      ]),
    );
  return {
    workflowTask: histogramP50P99(text, wf),
    activity: histogramP50P99(text, act),
    activityByTaskQueue: byQueue(act),
    workflowTaskByTaskQueue: byQueue(wf),
  };
}

async function scrape(url: string): Promise<string> {
  try {
    const res = await axios.get<string>(url, { responseType: 'text', timeout: 5000 });
    return res.data;
  } catch {
    return '';
  }
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Options

/** What `npm run bench` was asked to do. */
export interface BenchOptions {
  shipments: number;
  rate: number;
  backend: 'devserver' | 'postgres';
  scale: number;
  seed: number;
  json: boolean;
  curve?: number[];
  /** Curve only: how many of the runs in flight are released and drained (the rest stay parked). */
  drainSample?: number;
  rescheduleShare: number;
  timeoutSeconds: number;
}

/** Bad input from the command line; printed as one line with exit code 2. */
class UsageError extends Error {}

function num(label: string, min: number, max: number, integer = false) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(
        `${label} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** Parses the command line; throws UsageError on bad input. */
export function parseBenchArgs(argv: string[]): BenchOptions & { baselineWorker: boolean } {
  const program = new Command('bench')
    .description('End-to-end benchmark of shipsync against a bare-Temporal baseline of the same shape.')
    .option('--shipments <n>', 'deliveries to release', num('--shipments', 1, 20_000, true), 200)
    .option('--rate <r>', 'shipment starts per second', num('--rate', 0.1, 1000), 12)
    .addOption(
      new Option('--backend <kind>', 'Temporal server')
        .choices(['devserver', 'postgres'])
        .default('devserver'),
    )
    .option('--scale <s>', 'simulated seconds per real second', num('--scale', 1, 20_000), 1440)
    .option('--seed <n>', 'seed of every random choice', num('--seed', 0, 2 ** 31, true), 7)
    .option(
      '--reschedule-share <f>',
      'share of shipments the bench reschedules once planned',
      num('--reschedule-share', 0, 1),
      0.1,
    )
    .option(
      '--timeout <seconds>',
      'give up waiting for shipments to close after this long',
      num('--timeout', 10, 36_000),
      1800,
    )
    .option(
      '--curve <n1,n2,...>',
      'instead of the full stack: baseline-shaped runs parked in flight at these counts',
      parseCounts,
    )
    .option(
      '--drain-sample <n>',
      'with --curve: release and drain only this many of the runs in flight; the rest stay parked',
      num('--drain-sample', 1, 100_000, true),
    )
    .option('--json', 'print JSON instead of a table')
    .addOption(new Option('--baseline-worker').hideHelp())
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (
      err instanceof CommanderError &&
      (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')
    ) {
      process.exit(0);
    }
    throw new UsageError(
      err instanceof Error ? err.message.replace(/^error: /, '').split('\n')[0] : String(err),
    );
  }
  if (program.args.length > 0) throw new UsageError(`unexpected argument: ${program.args[0]}`);
  const o = program.opts<{
    shipments: number;
    rate: number;
    backend: 'devserver' | 'postgres';
    scale: number;
    seed: number;
    rescheduleShare: number;
    timeout: number;
    curve?: number[];
    drainSample?: number;
    json?: boolean;
    baselineWorker?: boolean;
  }>();
  if (o.drainSample !== undefined && !o.curve) throw new UsageError('--drain-sample needs --curve');
  return {
    shipments: o.shipments,
    rate: o.rate,
    backend: o.backend,
    scale: o.scale,
    seed: o.seed,
    json: o.json ?? false,
    curve: o.curve,
    drainSample: o.drainSample,
    rescheduleShare: o.rescheduleShare,
    timeoutSeconds: o.timeout,
    baselineWorker: o.baselineWorker ?? false,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Temporal server for the chosen backend

interface BenchTemporal {
  address?: string;
  pid?: number;
  stop(): Promise<void>;
}

/** For `postgres`, a Temporal server on PostgreSQL with throwaway databases; for `devserver`, nothing (the stack starts one). */
async function temporalFor(
  backend: BenchOptions['backend'],
  say: (l: string) => void,
): Promise<BenchTemporal> {
  if (backend === 'devserver') return { stop: async () => undefined };
  const t = await startTemporalForTests('postgres', say);
  return { address: t.address, stop: () => t.stop() };
}

// ---------------------------------------------------------------------------------------------------------
// The baseline worker (a child process, so its memory and CPU are measured alone)

const SELF = fileURLToPath(import.meta.url);
const BASELINE_WORKFLOWS = fileURLToPath(new URL('./workflows/workflow.ts', import.meta.url));

/** Runs the baseline's workers configured like the shipment worker (same slots, cache and per-queue limits). */
async function runBaselineWorker(): Promise<void> {
  const { NativeConnection, Runtime, Worker, DefaultLogger, bundleWorkflowCode } =
    await import('@temporalio/worker');
  const { createBenchActivities } = await import('./workflows/activities.js');
  const config = loadConfig();
  const metricsPort = process.env.BENCH_BASELINE_METRICS_PORT;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: metricsPort
      ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } }
      : undefined,
  });
  const connection = await NativeConnection.connect({ address: config.SHIPSYNC_TEMPORAL_ADDRESS });
  const q = taskQueues(BASELINE_TASK_QUEUE_PREFIX);
  const activities = createBenchActivities();
  const common = { connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE, activities };
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: BASELINE_WORKFLOWS,
    logger: new DefaultLogger('ERROR'),
  });
  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: q.shipments,
      workflowBundle,
      maxCachedWorkflows: config.SHIPSYNC_WORKER_CACHE_SIZE,
      maxConcurrentWorkflowTaskExecutions: config.SHIPSYNC_WORKER_WORKFLOW_SLOTS,
      maxConcurrentActivityTaskExecutions: 20,
      stickyQueueScheduleToStartTimeout: '10s',
    }),
    ...(['erp', 'dispatch', 'crm'] as const).map((k) =>
      Worker.create({
        ...common,
        taskQueue: q[k],
        maxTaskQueueActivitiesPerSecond: QUEUE_LIMITS[k].perSecond,
        maxConcurrentActivityTaskExecutions: QUEUE_LIMITS[k].concurrency,
      }),
    ),
  ]);
  await Promise.all(workers.map((w) => w.run()));
  await connection.close();
}

interface BaselineWorkerHandle {
  child: ChildProcess;
  metricsUrl: string;
  stop(): Promise<void>;
}

async function startBaselineWorker(client: Client, address: string): Promise<BaselineWorkerHandle> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--baseline-worker'], {
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
    await sleepMs(250);
  }
  return {
    child,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleepMs(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Closed workflows of a query, with first start, last close and the sum of state transitions and events. */
async function closedSummary(client: Client, query: string) {
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

async function waitForClosed(
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
    await sleepMs(500);
  }
}

/** Starts `n` baseline runs at `rate` per second (Infinity: as fast as 64 lanes go). */
async function startBaselines(client: Client, ids: string[], input: BaselineInput, rate: number) {
  const t0 = Date.now();
  await mapLimit(ids, 64, async (id, i) => {
    const due = t0 + (i / rate) * 1000;
    if (Number.isFinite(due) && due > Date.now()) await sleepMs(due - Date.now());
    await client.workflow.start('BaselineWorkflow', {
      workflowId: id,
      taskQueue: taskQueues(BASELINE_TASK_QUEUE_PREFIX).shipments,
      args: [input],
    });
  });
}

/** Sends each run its signals, one per `gapMs`, many runs at once. */
async function signalBaselines(client: Client, ids: string[], signals: number, gapMs: number) {
  await mapLimit(ids, 64, async (id) => {
    const h = client.workflow.getHandle(id);
    for (let k = 0; k < signals; k++) {
      await h.signal(baselineSignal, k);
      if (gapMs > 0) await sleepMs(gapMs);
    }
  });
}

/** Figures of one batch of closed workflows. */
interface BatchFigures {
  runs: number;
  closed: number;
  spanSeconds: number;
  completedPerSecond: number;
  stateTransitionsPerSecond: number;
  eventsPerRun: number;
}

function batchFigures(
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
async function runBaseline(
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
    // Each run gets its signals after its start, 100 ms apart, as a driver works through a stop.
    const driving = mapLimit(ids, 512, async (id, i) => {
      const due = t0 + (i / o.rate) * 1000;
      if (due > Date.now()) await sleepMs(due - Date.now());
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
    const figures = batchFigures(ids.length, summary);
    return {
      shape,
      plan: baselinePlan(shape).map((s) => `${s.activities.join('+') || '-'}${s.timer ? ' [timer]' : ''}`),
      allClosed: done,
      ...figures,
      scheduleToStartMs: scheduleToStart(metrics),
      workerPeakRssMiB: mib(peakRssBytes(procStatus(pid))),
      cpuSeconds: cpu,
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

/** CPU seconds of the Temporal server processes in a snapshot delta. */
function temporalCpu(cpu: Record<string, number>): number {
  return Object.entries(cpu).reduce((sum, [k, v]) => (k.startsWith('temporal') ? sum + v : sum), 0);
}

/** CPU seconds so far of this process (which hosts the sandboxes and the driver simulator) and its children by name. */
function cpuSnapshot(named: Record<string, number | undefined>) {
  const usage = process.cpuUsage();
  const out: Record<string, number> = {
    'bench (sandboxes, simulator, driver)': (usage.user + usage.system) / 1e6,
  };
  for (const [name, pid] of Object.entries(named)) {
    const s = cpuSeconds(pid);
    if (s !== undefined) out[name] = s;
  }
  // Every other child of this process (e.g. a Temporal server on PostgreSQL), by command name.
  try {
    for (const entry of execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')) {
      const [pidText, comm] = entry.trim().split(/\s+/);
      const pid = Number(pidText);
      if (!pid || Object.values(named).includes(pid)) continue;
      const s = cpuSeconds(pid);
      if (s !== undefined) out[comm ?? String(pid)] = (out[comm ?? String(pid)] ?? 0) + s;
    }
  } catch {
    // ps missing: the named processes are enough
  }
  const stat =
    readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  out['machine busy (all processes)'] =
    ((stat[0] ?? 0) + (stat[1] ?? 0) + (stat[2] ?? 0) + (stat[5] ?? 0) + (stat[6] ?? 0) + (stat[7] ?? 0)) /
    CLK_TCK;
  return out;
}

function cpuDelta(a: Record<string, number>, b: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) out[k] = round(v - (a[k] ?? 0), 1) ?? 0;
  return out;
}

/** The deliveries the bench reschedules: an even spread of the given share. */
function chosenForReschedule(i: number, share: number): boolean {
  return share > 0 && Math.floor((i + 1) * share) > Math.floor(i * share);
}

/** Whole stack, N shipments released at rate R, then the baseline on the same server. Returns the exit code. */
async function runFull(o: BenchOptions, say: (l: string) => void): Promise<number> {
  const config = loadConfig();
  const temporal = await temporalFor(o.backend, say);
  const metricsPort = await freePort();
  const dataDir = resolve(config.SHIPSYNC_DATA_DIR, 'bench');
  const releaseMs = (o.shipments / o.rate) * 1000;
  // Every shipment must be published (geocode + task: two activities on the dispatch queue, rate-limited) before the
  // region's planning cutoff, or it misses planning and escalates as unassigned; leave room for that backlog.
  const publishMs = ((o.shipments * 2) / QUEUE_LIMITS.dispatch.perSecond) * 1000;
  const leadMs = Math.ceil(20_000 + 1.5 * Math.max(releaseMs, publishMs));
  let stack: FullStack;
  try {
    stack = await startFullStack({
      dataDir,
      scale: o.scale,
      seed: o.seed,
      say,
      simulator: { enabled: true, failureRate: 0.05, delayRate: 0.1, damageRate: 0.02 },
      rescheduleRate: 0,
      showChildOutput: true,
      temporalAddress: temporal.address,
      // Boot, the release and the publishing backlog, all before simulated 04:00.
      startDelayMs: leadMs,
      env: { SHIPSYNC_WORKER_METRICS_PORT: String(metricsPort) },
    });
  } catch (err) {
    await temporal.stop();
    throw err;
  }
  try {
    const { client, clock, date, erp, dispatch, crm } = stack;
    const cutoffReal = clock.anchorRealMs + (2 * 3600_000) / clock.scale;
    const pids = () => ({
      worker: stack.worker().pid,
      gateway: stack.gateway().pid,
      'temporal dev server': stack.server?.process.pid,
    });
    const cpu0 = cpuSnapshot(pids());
    const api = axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 30_000 });
    const orders: Order[] = [];
    const indexOf = new Map<string, number>();
    const rescheduled = new Set<string>();
    const rescheduleMs: number[] = [];
    const rescheduleStatuses: Record<string, number> = {};
    const approved = new Set<string>();
    const inFlight = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>) => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const startedAt = Date.now();
    const deadline = startedAt + o.timeoutSeconds * 1000;

    /** Reschedules chosen shipments once planned; approves charges waiting for finance. */
    // The gateway's inbox shows the moment a route assignment reached a shipment, before visibility catches up.
    let inboxDb: Database.Database | undefined;
    const reschedulePlanned = async () => {
      inboxDb ??= existsSync(resolve(dataDir, 'gateway.sqlite'))
        ? new Database(resolve(dataDir, 'gateway.sqlite'), { readonly: true, fileMustExist: true })
        : undefined;
      const assigned = (inboxDb
        ?.prepare(
          `select distinct shipment_id as workflowId from inbox where type = 'route.assigned.v1' and status = 'delivered'`,
        )
        .all() ?? []) as { workflowId: string }[];
      for (const wf of assigned) {
        const i = indexOf.get(wf.workflowId);
        const order = i === undefined ? undefined : orders[i];
        if (
          !order ||
          i === undefined ||
          rescheduled.has(wf.workflowId) ||
          !chosenForReschedule(i, o.rescheduleShare)
        )
          continue;
        rescheduled.add(wf.workflowId);
        const window = nextServiceWindow(order.requestedWindow, order.serviceDays);
        const t = performance.now();
        track(
          api
            .post(
              `/v1/shipments/${wf.workflowId}/reschedule`,
              { window, reason: 'customer asked for the next service day', requestedBy: 'bench' },
              {
                headers: {
                  authorization: 'Bearer dev-agent',
                  'idempotency-key': `bench-reschedule-${wf.workflowId}`,
                },
              },
            )
            .then(
              (res) => {
                rescheduleStatuses[res.status] = (rescheduleStatuses[res.status] ?? 0) + 1;
                if (res.status === 200) rescheduleMs.push(performance.now() - t);
              },
              () => {
                rescheduleStatuses.error = (rescheduleStatuses.error ?? 0) + 1;
              },
            ),
        );
      }
    };
    const approveWaiting = async () => {
      for await (const wf of client.workflow.list({
        query: `WorkflowType = 'ShipmentWorkflow' AND ShipmentStatus = 'awaiting_approval'`,
      })) {
        if (approved.has(wf.workflowId)) continue;
        approved.add(wf.workflowId);
        track(
          api.post(
            `/v1/shipments/${wf.workflowId}/charges/approval`,
            { approvedBy: 'finance-bench', approve: true },
            {
              headers: {
                authorization: 'Bearer dev-finance',
                'idempotency-key': `bench-approve-${wf.workflowId}`,
              },
            },
          ),
        );
      }
    };

    let watching = true;
    // Planned is a short phase on the compressed clock: watch for it on its own fast loop.
    const watcher = (async () => {
      while (watching) {
        await reschedulePlanned().catch((err: unknown) => say(`reschedule watch: ${String(err)}`));
        await sleepMs(200);
      }
    })();
    // Release: the ERP creates deliveries at rate R; its release push reaches the gateway, which starts each shipment.
    say(`releasing ${o.shipments} deliveries for ${date} at ${o.rate}/s through the ERP release push`);
    const tick = Math.max(20, Math.min(250, 1000 / o.rate));
    while (orders.length < o.shipments) {
      const due = Math.min(o.shipments, Math.floor(((Date.now() - startedAt) / 1000) * o.rate) + 1);
      while (due > orders.length) {
        // Round-robin over the regions: each dispatch team has drivers for about 200 stops a day.
        const region = REGION_CODES[orders.length % REGION_CODES.length] ?? 'CHI';
        for (const order of erp.seed(1, { date, mismatchRate: 0, regions: [region] })) {
          indexOf.set(shipmentWorkflowId(order.deliveryId), orders.length);
          orders.push(order);
        }
      }
      await sleepMs(tick);
    }
    const releaseSeconds = (Date.now() - startedAt) / 1000;
    if (Date.now() > cutoffReal)
      say(
        `warning: the release ended after the planning cutoff (simulated 06:00); late shipments wait for escalation`,
      );
    say(
      `released ${orders.length} in ${releaseSeconds.toFixed(1)} s; simulated 04:00 on ${date} in ${Math.max(0, Math.round((clock.anchorRealMs - Date.now()) / 1000))} s`,
    );

    const closedQuery = `WorkflowType = 'ShipmentWorkflow' AND ExecutionStatus != 'Running'`;
    let closed = 0;
    let lastLine = '';
    while (Date.now() < deadline) {
      await approveWaiting().catch((err: unknown) => say(`approve: ${String(err)}`));
      closed = (await client.workflow.count(closedQuery)).count;
      const sim = new Date(simAt(clock, Date.now())).toISOString().slice(0, 16).replace('T', ' ');
      const line = `sim ${sim}  closed ${closed}/${orders.length}  rescheduled ${rescheduleMs.length}  approved ${approved.size}`;
      if (line !== lastLine) say(line);
      lastLine = line;
      if (closed >= orders.length) break;
      await sleepMs(500);
    }
    watching = false;
    await watcher;
    inboxDb?.close();
    await Promise.allSettled([...inFlight]);

    // Measure before anything stops: peak RSS, CPU, metrics, backlog.
    const cpu1 = cpuSnapshot(pids());
    const workerStatus = procStatus(stack.worker().pid);
    const gatewayStatus = procStatus(stack.gateway().pid);
    const workerMetrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    const gatewayMetrics = await scrape(`${stack.gatewayUrl}/metrics`);
    const backlog = Number(/^shipsync_inbox_backlog(?:\{[^}]*\})?\s+(\S+)/m.exec(gatewayMetrics)?.[1] ?? NaN);

    const ids = orders.map((x) => shipmentWorkflowId(x.deliveryId));
    const summary = await closedSummary(client, `WorkflowType = 'ShipmentWorkflow'`);
    const everything = await closedSummary(
      client,
      `ExecutionStatus != 'Running' OR ExecutionStatus = 'Running'`,
    );
    const results = new Map<string, ShipmentResult>();
    await mapLimit(ids, 20, async (id) => {
      try {
        results.set(id, await client.workflow.getHandle(id).result());
      } catch {
        // not closed or failed: reconciliation reports it
      }
    });
    await crm.drain();
    const reconciliation = await reconcile({
      erpUrl: erp.url,
      dispatchUrl: dispatch.url,
      crmUrl: crm.url,
      orders,
      results,
    });

    // Event → ERP milestone: the gateway inbox's receipt time against the ERP's write time.
    const db = new Database(resolve(dataDir, 'gateway.sqlite'), { readonly: true, fileMustExist: true });
    const inbox = db
      .prepare(
        `select shipment_id as shipmentId, type, received_at as receivedAt, delivered_at as deliveredAt from inbox where source = 'dispatch' and shipment_id is not null`,
      )
      .all() as { shipmentId: string; type: string; receivedAt: string; deliveredAt: string | null }[];
    // The gateway's share of that latency: inbox receipt until the signal reached the workflow.
    const forwardMs = inbox
      .filter((e) => e.deliveredAt)
      .map((e) => Date.parse(e.deliveredAt ?? '') - Date.parse(e.receivedAt));
    db.close();
    const milestones = new Map<string, { milestone: string; receivedAtMs: number }[]>();
    await mapLimit(orders, 16, async (order) => {
      const res = await axios.get<{ milestones: { milestone: string; receivedAt: string }[] }>(
        `${erp.url}/__sandbox/deliveries/${order.deliveryId}/milestones`,
      );
      const id = shipmentWorkflowId(order.deliveryId);
      milestones.set(
        id,
        res.data.milestones
          // A rescheduled shipment's extra planned milestone comes from the reschedule, not from an event.
          .filter((m) => !(rescheduled.has(id) && m.milestone === 'PLANNED'))
          .map((m) => ({ milestone: m.milestone, receivedAtMs: parseODataDate(m.receivedAt) })),
      );
    });
    const pairs = eventToMilestoneLatencies(
      inbox.map((e) => ({ shipmentId: e.shipmentId, type: e.type, receivedAtMs: Date.parse(e.receivedAt) })),
      milestones,
    );
    const byType: Record<string, ReturnType<typeof p50p99>> = {};
    for (const type of Object.keys(EVENT_MILESTONE)) {
      const v = pairs.filter((p) => p.type === type).map((p) => p.ms);
      if (v.length > 0) byType[`${type} → ${EVENT_MILESTONE[type]}`] = p50p99(v);
    }

    // The typical shipment's shape, from real histories: delivered first time, not rescheduled.
    const typical = [...results.values()]
      .filter((r) => r.outcome === 'delivered' && r.attempts === 1 && !rescheduled.has(r.shipmentId))
      .slice(0, 15);
    const histories = await mapLimit(typical, 5, (r) =>
      client.workflow.getHandle(r.shipmentId).fetchHistory(),
    );
    const shape = medianShape(histories.map((h) => shapeOf((h.events ?? []) as HistoryEventView[])));
    const typicalEvents = percentile(
      histories.map((h) => h.events?.length ?? 0),
      0.5,
    );

    const outcomes: Record<string, number> = {};
    for (const r of results.values()) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    const ours = batchFigures(orders.length, summary);
    const runSeconds = (Date.now() - startedAt) / 1000;
    say(`shipments done in ${runSeconds.toFixed(0)} s; now the baseline`);

    const baseline =
      summary.count > 0
        ? await runBaseline(client, stack.temporalAddress, shape, o, say, stack.server?.process.pid)
        : undefined;
    const cpu = cpuDelta(cpu0, cpu1);
    const oursCpuPerShipment =
      ((cpu.worker ?? 0) + (cpu.gateway ?? 0) + temporalCpu(cpu)) / Math.max(1, summary.count);
    const report = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      machine: machine(),
      options: {
        shipments: o.shipments,
        rate: o.rate,
        backend: o.backend,
        scale: o.scale,
        seed: o.seed,
        rescheduleShare: o.rescheduleShare,
      },
      shipments: {
        released: orders.length,
        closed: summary.count,
        outcomes,
        releaseSeconds: round(releaseSeconds, 1),
        startRateAchieved: round(orders.length / releaseSeconds),
        simulatedDayRealSeconds: round(86_400 / o.scale, 1),
      },
      throughput: {
        ...ours,
        note: 'closed shipments / (last close - first start), from Temporal visibility',
      },
      scheduleToStartMs: scheduleToStart(workerMetrics),
      eventToErpMilestoneMs: { all: p50p99(pairs.map((p) => p.ms)), byType },
      gatewayForwardMs: p50p99(forwardMs),
      rescheduleRoundTripMs: { ...p50p99(rescheduleMs), statuses: rescheduleStatuses },
      peakRssMiB: { worker: mib(peakRssBytes(workerStatus)), gateway: mib(peakRssBytes(gatewayStatus)) },
      cpuSeconds: cpu,
      cpuSecondsPerShipment: {
        workerGatewayTemporal: round(oursCpuPerShipment, 3),
        sandboxesSimulatorDriver: round(
          (cpu['bench (sandboxes, simulator, driver)'] ?? 0) / Math.max(1, summary.count),
          3,
        ),
      },
      temporal: {
        stateTransitions: everything.transitions,
        stateTransitionsPerSecond: round(everything.transitions / ours.spanSeconds, 1),
        workflows: everything.count,
      },
      inboxBacklogAtEnd: Number.isFinite(backlog) ? backlog : undefined,
      typicalShipment: { shape, historyEvents: typicalEvents, sampled: histories.length },
      reconciliation: {
        clean: reconciliation.mismatches.length === 0,
        ...reconciliation,
        mismatches: reconciliation.mismatches.slice(0, 20),
      },
      baseline: baseline && {
        ...baseline,
        oursOverBaseline: round(ours.completedPerSecond / baseline.completedPerSecond),
        oursOverBaselineByCpu: round((baseline.cpuSecondsPerRun ?? 0) / oursCpuPerShipment),
      },
    };
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else printReport(report);
    const ok =
      summary.count === orders.length &&
      reconciliation.mismatches.length === 0 &&
      !!baseline &&
      baseline.closed === baseline.runs;
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
    await temporal.stop();
  }
}

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
    await sleepMs(1000);
    const now = cpuSeconds(pid) ?? 0;
    quiet = now - last < idleShare ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * Scale curve: at each count, a fresh Temporal server and baseline worker; baseline-shaped runs parked in flight,
 * then all of them (or a sample) released and drained while the rest stay parked.
 */
async function runCurve(o: BenchOptions & { curve: number[] }, say: (l: string) => void): Promise<number> {
  const points = [];
  let ok = true;
  for (const n of o.curve) {
    // Each point on its own server and worker, so runs left parked by one point do not weigh on the next.
    const server = await startTemporalForTests(o.backend, say);
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
    shape: TYPICAL_SHAPE,
    workerConfig: {
      maxCachedWorkflows: loadConfig().SHIPSYNC_WORKER_CACHE_SIZE,
      workflowSlots: loadConfig().SHIPSYNC_WORKER_WORKFLOW_SLOTS,
    },
    note: 'BaselineWorkflow runs parked on a signal (in flight), then all of them or an even sample released with all their signals at once; worker = the baseline worker process; one fresh server and worker per point',
    points,
  };
  if (o.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(
      `in flight  start/s  RSS in flight  peak RSS  released  drain/s  events/run  worker CPU ms/event`,
    );
    for (const p of points) {
      console.log(
        `${String(p.inFlight).padStart(9)}  ${String(p.startsPerSecond).padStart(7)}  ${`${p.workerRssInFlightMiB} MiB`.padStart(13)}  ${`${p.workerPeakRssMiB} MiB`.padStart(8)}  ${String(p.released).padStart(8)}  ${String(p.drain.completedPerSecond).padStart(7)}  ${String(p.drain.eventsPerRun).padStart(10)}  ${String(p.workerCpuMsPerEvent).padStart(19)}`,
      );
    }
  }
  return ok ? 0 : 1;
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  return {
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1m: round(loadavg()[0]),
  };
}

function printReport(r: {
  shipments: { released: number; closed: number; startRateAchieved?: number };
  throughput: BatchFigures;
  scheduleToStartMs: { workflowTask: ReturnType<typeof p50p99>; activity: ReturnType<typeof p50p99> };
  eventToErpMilestoneMs: { all: ReturnType<typeof p50p99> };
  gatewayForwardMs: ReturnType<typeof p50p99>;
  rescheduleRoundTripMs: ReturnType<typeof p50p99>;
  peakRssMiB: { worker?: number; gateway?: number };
  temporal: { stateTransitionsPerSecond?: number };
  inboxBacklogAtEnd?: number;
  cpuSeconds: Record<string, number>;
  reconciliation: { clean: boolean; mismatches: string[] };
  baseline?: {
    completedPerSecond: number;
    oursOverBaseline?: number;
    oursOverBaselineByCpu?: number;
    scheduleToStartMs: { workflowTask: ReturnType<typeof p50p99>; activity: ReturnType<typeof p50p99> };
  };
}) {
  const pp = (x: ReturnType<typeof p50p99>) =>
    `p50 ${x.p50 ?? '-'} ms, p99 ${x.p99 ?? '-'} ms (${x.samples})`;
  const rows: [string, string][] = [
    [
      'shipments closed',
      `${r.shipments.closed} / ${r.shipments.released} (starts ${r.shipments.startRateAchieved}/s)`,
    ],
    ['completed shipments/s', `${r.throughput.completedPerSecond} over ${r.throughput.spanSeconds} s`],
    ['workflow task schedule-to-start', pp(r.scheduleToStartMs.workflowTask)],
    ['activity schedule-to-start', pp(r.scheduleToStartMs.activity)],
    ['event → ERP milestone', pp(r.eventToErpMilestoneMs.all)],
    ['— of which gateway inbox → signal', pp(r.gatewayForwardMs)],
    ['reschedule round trip', pp(r.rescheduleRoundTripMs)],
    ['peak RSS worker / gateway', `${r.peakRssMiB.worker} / ${r.peakRssMiB.gateway} MiB`],
    ['state transitions/s', String(r.temporal.stateTransitionsPerSecond)],
    ['inbox backlog at end', String(r.inboxBacklogAtEnd)],
    [
      'CPU seconds',
      Object.entries(r.cpuSeconds)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['baseline completed/s', String(r.baseline?.completedPerSecond ?? '-')],
    [
      'baseline schedule-to-start wf/act',
      r.baseline
        ? `${pp(r.baseline.scheduleToStartMs.workflowTask)} / ${pp(r.baseline.scheduleToStartMs.activity)}`
        : '-',
    ],
    ['ours ÷ baseline (completed/s)', String(r.baseline?.oursOverBaseline ?? '-')],
    ['ours ÷ baseline (CPU per shipment)', String(r.baseline?.oursOverBaselineByCpu ?? '-')],
    [
      'reconciliation',
      r.reconciliation.clean ? 'clean' : `${r.reconciliation.mismatches.length} mismatch(es)`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  for (const m of r.reconciliation.mismatches) console.log(`  mismatch: ${m}`);
}

// ---------------------------------------------------------------------------------------------------------
// main

async function main() {
  let opts;
  try {
    opts = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  if (opts.baselineWorker) return runBaselineWorker();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const code = opts.curve ? await runCurve({ ...opts, curve: opts.curve }, say) : await runFull(opts, say);
  process.exit(code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
