import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import axios from 'axios';
import PQueue from 'p-queue';
import {
  histogramBuckets,
  histogramLabelValues,
  histogramQuantile,
  linesWithLabel,
  percentile,
} from './stats.js';
import type { RequestCounts } from '../../sandbox/common/faults.js';
import { loadedAllocator, type Allocator } from '../../src/platform/allocator.js';
import type { Config } from '../../src/platform/config.js';

/*
 * Measurements of processes (Linux /proc), of the machine and of Prometheus endpoints.
 */

const CLK_TCK = 100;

/**
 * User + system CPU seconds a process has used so far (Linux /proc), or undefined when it is gone. A thread is
 * named by its `/proc` path, `<pid>/task/<tid>`.
 */
export function cpuSeconds(pid: number | string | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

export function procStatus(pid: number | undefined): string {
  try {
    return pid ? readFileSync(`/proc/${pid}/status`, 'utf8') : '';
  } catch {
    return '';
  }
}

/** The malloc a running process uses (jemalloc when started through bin/with-jemalloc), read from its map. */
export function allocatorOf(pid: number | undefined): Allocator | undefined {
  try {
    return pid ? loadedAllocator(readFileSync(`/proc/${pid}/maps`, 'utf8')) : undefined;
  } catch {
    return undefined;
  }
}

export function rssBytes(pid: number | undefined): number | undefined {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(procStatus(pid))?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

export const mib = (bytes: number | undefined) =>
  bytes === undefined ? undefined : Math.round(bytes / 1048576);
export const round = (n: number | undefined, digits = 2) =>
  n === undefined || !Number.isFinite(n) ? undefined : Math.round(n * 10 ** digits) / 10 ** digits;
/** p50/p99 of raw samples in ms. */
export function p50p99(values: number[]) {
  return {
    p50: round(percentile(values, 0.5)),
    p99: round(percentile(values, 0.99)),
    samples: values.length,
  };
}

/** p50/p99 in ms of a Prometheus histogram that the SDK exports in milliseconds. */
export function histogramP50P99(text: string, name: string) {
  const b = histogramBuckets(text, name);
  return {
    p50: round(histogramQuantile(b, 0.5)),
    p99: round(histogramQuantile(b, 0.99)),
    samples: b.at(-1)?.count ?? 0,
  };
}

/** Workflow-task and activity schedule-to-start p50/p99, overall and per task queue. */
export function scheduleToStart(text: string) {
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

export async function scrape(url: string): Promise<string> {
  try {
    const res = await axios.get<string>(url, { responseType: 'text', timeout: 5000 });
    return res.data;
  } catch {
    return '';
  }
}

/** CPU seconds of the Temporal server processes in a snapshot delta. */
export function temporalCpu(cpu: Record<string, number>): number {
  return Object.entries(cpu).reduce((sum, [k, v]) => (k.startsWith('temporal') ? sum + v : sum), 0);
}

/** CPU seconds so far of this process (which hosts the sandboxes and the driver simulator) and its children by name. */
export function cpuSnapshot(named: Record<string, number | undefined>) {
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
  out['machine busy (all processes)'] = machineCpuSeconds().busy;
  return out;
}

/**
 * CPU seconds of the whole machine so far, all cores (Linux /proc/stat): busy (user, nice, system, irq, softirq,
 * steal) and in all (idle and I/O wait too).
 */
export function machineCpuSeconds(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
  const at = (i: number) => f[i] ?? 0;
  return {
    busy: (at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) / CLK_TCK,
    total: (at(0) + at(1) + at(2) + at(3) + at(4) + at(5) + at(6) + at(7)) / CLK_TCK,
  };
}

/** The CPU a unit of work costs, in CPU seconds, for the offered-load figures. */
export interface CpuPerUnit {
  /** Worker, gateway and Temporal server per shipment. */
  stack: number;
  /** The bench process per shipment: the three sandboxes, the driver simulator and the load itself. */
  bench?: number;
  /** The baseline's worker and Temporal server per run. */
  baseline?: number;
}

/**
 * How much of the machine the offered load asks for: the CPU one shipment costs times the start rate, in
 * cores, against the cores there are. Above 1 (`demandOverCores`) the releases arrive faster than the
 * machine can serve them, every queue grows for as long as the releases last, and each latency grows with
 * it. `sustainableStartsPerSecond` is the start rate the measured cost allows on these cores.
 */
export function offeredLoad(cores: number, rate: number, cpu: CpuPerUnit) {
  const perShipment = cpu.stack + (cpu.bench ?? 0);
  return {
    cores,
    startsPerSecond: rate,
    coresAsked: round(perShipment * rate),
    demandOverCores: round((perShipment * rate) / cores),
    sustainableStartsPerSecond: perShipment > 0 ? round(cores / perShipment) : undefined,
    ...(cpu.baseline
      ? {
          baselineCoresAsked: round(cpu.baseline * rate),
          baselineDemandOverCores: round((cpu.baseline * rate) / cores),
          baselineSustainableStartsPerSecond: round(cores / cpu.baseline),
        }
      : {}),
  };
}

/**
 * Samples how busy the whole machine is, once a second unless told, until stopped: the mean busy share of
 * all cores, its median and 90th percentile over the samples, and in how many samples every core was at
 * least 95 % busy (the machine saturated: work waits for a core).
 */
export function busySampler(everyMs = 1000) {
  const shares: number[] = [];
  let last = machineCpuSeconds();
  const sample = () => {
    const now = machineCpuSeconds();
    const total = now.total - last.total;
    if (total > 0) shares.push((now.busy - last.busy) / total);
    last = now;
  };
  const timer = setInterval(sample, everyMs);
  timer.unref?.();
  return {
    /** Stops sampling; the time since the last sample is the last one. */
    stop() {
      clearInterval(timer);
      sample();
      return {
        sampleMs: everyMs,
        samples: shares.length,
        meanBusyShare: round(shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length)),
        p50BusyShare: round(percentile(shares, 0.5) ?? 0),
        p90BusyShare: round(percentile(shares, 0.9) ?? 0),
        samplesAtLeast95PercentBusy: shares.filter((s) => s >= 0.95).length,
      };
    },
  };
}

export function cpuDelta(a: Record<string, number>, b: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) out[k] = round(v - (a[k] ?? 0), 1) ?? 0;
  return out;
}

export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine() {
  return {
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1m: round(loadavg()[0]),
  };
}

/** Runs `fn` over `items` with at most `limit` calls at once; results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const queue = new PQueue({ concurrency: limit });
  return Promise.all(items.map((item, i) => queue.add(() => fn(item, i))));
}

/** A vendor's rate budget: requests per second, and how its plan states it. */
export interface VendorBudget {
  perSecond: number;
  label: string;
}

/**
 * Each vendor's rate budget as the worker paces it, from the same settings the adapters read:
 * `SHIPSYNC_ERP_REQUESTS_PER_SECOND` (SAP's communication arrangement has no fixed limit),
 * `SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND` (Onfleet: 20 a second per API key) and
 * `SHIPSYNC_CRM_REQUESTS_PER_MINUTE` (Zendesk Enterprise: 700 a minute per account).
 */
export function vendorBudgets(
  config: Pick<
    Config,
    | 'SHIPSYNC_ERP_REQUESTS_PER_SECOND'
    | 'SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND'
    | 'SHIPSYNC_CRM_REQUESTS_PER_MINUTE'
  >,
): Record<'erp' | 'dispatch' | 'crm', VendorBudget> {
  const erp = config.SHIPSYNC_ERP_REQUESTS_PER_SECOND;
  const dispatch = config.SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND;
  const crm = config.SHIPSYNC_CRM_REQUESTS_PER_MINUTE;
  return {
    erp: { perSecond: erp, label: `${erp} requests/s` },
    dispatch: { perSecond: dispatch, label: `${dispatch} requests/s` },
    crm: { perSecond: crm / 60, label: `${crm} requests/min` },
  };
}

/** What one vendor received during a run: requests, per shipment, and the share of its budget used. */
export function vendorRequestFigures(
  budget: VendorBudget,
  before: RequestCounts,
  after: RequestCounts,
  shipments: number,
  seconds: number,
) {
  const requests = after.total - before.total;
  const byRoute = Object.entries(after.byRoute)
    .map(([route, n]) => [route, n - (before.byRoute[route] ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  return {
    requests,
    perShipment: round(requests / Math.max(1, shipments), 2),
    budget: budget.label,
    budgetShare: round(requests / Math.max(1e-9, budget.perSecond * seconds), 3),
    byRoute: Object.fromEntries(byRoute.slice(0, 8)),
  };
}

/** A copy of a sandbox's request counts, to subtract from later. */
export function requestSnapshot(counts: RequestCounts): RequestCounts {
  return { total: counts.total, byRoute: { ...counts.byRoute } };
}
