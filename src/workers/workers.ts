import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import {
  NativeConnection,
  Worker,
  bundleWorkflowCode,
  type BundleOptions,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TLSConfig } from '@temporalio/client';
import type { ClockSettings } from '../domain/clock.js';
import type { CrmPort, DispatchPort, ErpPort, GeocoderPort } from '../integrations/ports.js';
import { createCrmActivities } from '../activities/crm.js';
import { createDispatchActivities } from '../activities/dispatch.js';
import { createErpActivities } from '../activities/erp.js';
import { createOrchestrationActivities, type RejectedReleaseSink } from '../activities/orchestration.js';
import {
  createReconciliationActivities,
  type ReconciliationReportSink,
} from '../activities/reconciliation.js';
import type { ShipmentSettings } from '../workflows/shipment/contract.js';
import { taskQueues } from '../workflows/task-queues.js';
import { temporalConnectError } from '../platform/temporal-client.js';
import { withoutWorkflowStackTraces } from './stack-traces.js';

/** True when this module runs compiled from `dist/src/` (`npm run build`), false when run from source. */
const COMPILED = import.meta.url.endsWith('.js');
/** Path of the prebuilt workflow bundle written by `npm run build`: `dist/workflow-bundle.js` either way. */
export const PREBUILT_BUNDLE = fileURLToPath(
  new URL(COMPILED ? '../../workflow-bundle.js' : '../../dist/workflow-bundle.js', import.meta.url),
);
/** The prebuilt bundle of encrypting deployments: failure messages go through the failure converter. */
export const PREBUILT_ENCODED_FAILURES_BUNDLE = PREBUILT_BUNDLE.replace(/\.js$/, '-encoded-failures.js');
/** The workflows' entry module, compiled or source, that a bundle is built from. */
export const WORKFLOWS_PATH = fileURLToPath(
  new URL(COMPILED ? '../workflows/index.js' : '../workflows/index.ts', import.meta.url),
);

/**
 * How every bundle of shipsync's workflows is made. The workflows load some modules with a `require` on first
 * use (`src/workflows/lazy.ts`); webpack takes that `require` from TypeScript sources, but treats
 * compiled `.js` files of this `"type": "module"` package as strict ES modules and would leave it unbound, so
 * that one module is bundled as `javascript/auto` either way.
 */
export function workflowBundleOptions(options: Partial<BundleOptions> = {}): BundleOptions {
  return {
    workflowsPath: WORKFLOWS_PATH,
    ...options,
    webpackConfigHook: (config) => {
      const rules = config.module?.rules ?? [];
      rules.push({ test: /[\\/]workflows[\\/]lazy\.js$/, type: 'javascript/auto' });
      return { ...config, module: { ...config.module, rules } };
    },
  };
}

/**
 * Heap one cached shipment workflow may hold: the workflow modules the SDK evaluates once per run and the
 * run's state. `npm run bench:workflow-memory -- --started` measures 139 KiB for a run that has just started
 * (82 KiB of it modules, docs/benchmarks.md); the state grows with the run's events (the window of event
 * ids it remembers, milestones, cases), which the rest of the figure leaves room for.
 */
export const SHIPMENT_WORKFLOW_HEAP_MIB = 0.3;
/** Share of a capped workflow-thread heap the cache may fill; the rest is the runs' state and garbage. */
const CACHE_HEAP_SHARE = 0.75;

/**
 * Why a workflow-thread heap cap cannot hold the cache, or undefined when it can (or there is no cap). A
 * thread that runs out of heap stops the worker, so the worker refuses to start with such a pair instead.
 */
export function workflowHeapProblem(cacheSize: number, heapMb: number | undefined): string | undefined {
  if (heapMb === undefined) return undefined;
  const fits = Math.floor((heapMb * CACHE_HEAP_SHARE) / SHIPMENT_WORKFLOW_HEAP_MIB);
  if (cacheSize <= fits) return undefined;
  return `SHIPSYNC_WORKER_HEAP_MB: ${heapMb} MiB holds about ${fits} cached shipments (${SHIPMENT_WORKFLOW_HEAP_MIB} MiB each), not SHIPSYNC_WORKER_CACHE_SIZE ${cacheSize}; lower the cache or raise the heap`;
}

/**
 * Caps the V8 heap of the workflow thread the SDK starts with the next workflow worker
 * (`SHIPSYNC_WORKER_HEAP_MB`; nothing when unset). The cached workflows live there; without a cap V8 sizes
 * the heap from the machine's memory (4 GiB on a 24 GiB machine) and collects late, so the worker's RSS
 * follows the machine rather than its cache. V8 reads the flag when an isolate is made, so it applies to
 * threads started after this call, not to the process's main thread.
 */
export function capWorkflowThreadHeap(mb: number | undefined): void {
  if (mb !== undefined) v8.setFlagsFromString(`--max-old-space-size=${mb}`);
}

/**
 * Per-queue activity limits. The vendors' own limits are kept by the adapters, which pace HTTP requests
 * (a bulk call is one): ERP `SHIPSYNC_ERP_REQUESTS_PER_SECOND`, dispatch
 * `SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND`, CRM `SHIPSYNC_CRM_REQUESTS_PER_MINUTE`. Activities in flight are
 * what the bulk calls gather, so these are set well above the request rates; they remain a server-side cap
 * across all workers.
 */
export const QUEUE_LIMITS = {
  /** Milestones, goods issue and billing go out in `$batch` requests of up to 50 change sets. */
  erp: { perSecond: 200, concurrency: 100 },
  /** Task creation goes out in `tasks/batch`; moves and cancels stay one request each. */
  dispatch: { perSecond: 60, concurrency: 40 },
  /**
   * Cases, notices and closes go out in `create_many`/`update_many` jobs of up to 100 tickets. A CRM call
   * spends most of its slot waiting for its window (`SHIPSYNC_CRM_BULK_WINDOW_MS`) and its job's polls, so
   * the slots are set for a full window's calls to wait at once, not for the work they do.
   */
  crm: { perSecond: 50, concurrency: 200 },
} as const;

/** Everything a worker process needs. */
export interface WorkerDeps {
  address: string;
  /** TLS to the frontend (server CA, client certificate, server name); see temporalConnectionOptions. */
  tls?: TLSConfig;
  /** A Temporal Cloud API key (needs TLS). */
  apiKey?: string;
  namespace: string;
  taskQueuePrefix: string;
  clock: ClockSettings;
  settings: ShipmentSettings;
  erp: ErpPort;
  dispatch: DispatchPort;
  crm: CrmPort;
  geocoder: GeocoderPort;
  /** How the workers name themselves to Temporal (each history event they write carries it); the SDK's `pid@host` when absent. */
  identity?: string;
  cacheSize?: number;
  workflowSlots?: number;
  /**
   * The SDK's promise hook behind the `__stack_trace` query (the Web UI's Stack Trace tab); off unless true,
   * as `SHIPSYNC_WORKFLOW_STACK_TRACES` is (see stack-traces.ts).
   */
  workflowStackTraces?: boolean;
  /** Share of workflow-task pollers on the shared (non-sticky) queue; 0.5 unless given. */
  nonStickyPollRatio?: number;
  /** Encrypting data converter (see src/platform/codec.ts); the default converter when absent. */
  dataConverter?: DataConverter;
  /** Use this bundle instead of the prebuilt one or bundling at start. */
  bundle?: WorkflowBundleOption;
  /** The gateway's dead letters, for released deliveries the ERP adapter refuses (opened on first use). */
  deadLetters?: () => Promise<RejectedReleaseSink>;
  /** The gateway's reconciliation reports (opened on first use). */
  reconciliationReports?: () => Promise<ReconciliationReportSink>;
}

/** The running workers and how to stop them. */
export interface RunningWorkers {
  workers: Worker[];
  run: Promise<void>;
  shutdown(): Promise<void>;
}

/** Newest modification time of the sources a workflow bundle is built from. */
function newestSourceMtime(): number {
  const src = fileURLToPath(new URL('..', import.meta.url));
  let newest = 0;
  for (const dir of ['workflows', 'domain']) {
    for (const entry of readdirSync(join(src, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** True when a worker would take the prebuilt bundle: there is one, and it is newer than the sources (or compiled). */
export function prebuiltBundleIsFresh(path = PREBUILT_BUNDLE): boolean {
  return existsSync(path) && (COMPILED || statSync(path).mtimeMs > newestSourceMtime());
}

/**
 * The prebuilt bundle when there is one (compiled) or when it is newer than the workflow sources (run from
 * source), else a bundle made now from the workflows. A data converter with a failure converter (an
 * encrypting one) takes the bundle built with it, so failures the workflow code raises are encoded too.
 */
export async function loadWorkflowBundle(dataConverter?: DataConverter): Promise<WorkflowBundleOption> {
  const failureConverterPath = dataConverter?.failureConverterPath;
  const prebuilt = failureConverterPath ? PREBUILT_ENCODED_FAILURES_BUNDLE : PREBUILT_BUNDLE;
  if (prebuiltBundleIsFresh(prebuilt)) return { codePath: prebuilt };
  return bundleWorkflowCode(workflowBundleOptions(failureConverterPath ? { failureConverterPath } : {}));
}

/**
 * Creates the workflow worker (`shipments`, which also runs the orchestration and reconciliation activities)
 * and one activity worker per external system.
 */
export async function createWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const target = {
    address: deps.address,
    ...(deps.tls ? { tls: deps.tls } : {}),
    ...(deps.apiKey ? { apiKey: deps.apiKey } : {}),
  };
  const connection = await NativeConnection.connect(target).catch((err: unknown) => {
    throw temporalConnectError(target, err);
  });
  const clientConnection = await Connection.connect(target).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  const client = new Client({
    connection: clientConnection,
    namespace: deps.namespace,
    dataConverter: deps.dataConverter,
  });
  const q = taskQueues(deps.taskQueuePrefix);
  const bundle = deps.bundle ?? (await loadWorkflowBundle(deps.dataConverter));
  const common = {
    connection,
    namespace: deps.namespace,
    dataConverter: deps.dataConverter,
    ...(deps.identity ? { identity: deps.identity } : {}),
  };
  const dispatchActivities = createDispatchActivities({ dispatch: deps.dispatch, geocoder: deps.geocoder });
  const createShipmentWorker = (): Promise<Worker> =>
    Worker.create({
      ...common,
      taskQueue: q.shipments,
      workflowBundle: bundle,
      activities: {
        ...createOrchestrationActivities({
          client,
          clock: deps.clock,
          settings: deps.settings,
          taskQueuePrefix: deps.taskQueuePrefix,
          deadLetters: deps.deadLetters,
        }),
        ...createReconciliationActivities({
          client,
          erp: deps.erp,
          dispatch: deps.dispatch,
          crm: deps.crm,
          reports: deps.reconciliationReports,
        }),
        // The shipment's local activity (a reschedule's move), paced by the same adapter as the dispatch queue's.
        dispatchRescheduleTask: (input: Parameters<typeof dispatchActivities.dispatchRescheduleTask>[0]) =>
          dispatchActivities.dispatchRescheduleTask(input),
      },
      maxCachedWorkflows: deps.cacheSize ?? 2000,
      maxConcurrentWorkflowTaskExecutions: deps.workflowSlots ?? 40,
      nonStickyToStickyPollRatio: deps.nonStickyPollRatio ?? 0.5,
      maxConcurrentActivityTaskExecutions: 20,
      // A busy worker's cached runs wait on its sticky queue rather than move to the shared queue after 10 s,
      // where every one of them is a full replay (a dead worker's sticky queue is given up by the server as
      // soon as it has no poller, whatever this says).
      stickyQueueScheduleToStartTimeout: '60s',
    });
  const workers = await Promise.all([
    deps.workflowStackTraces ? createShipmentWorker() : withoutWorkflowStackTraces(createShipmentWorker),
    Worker.create({
      ...common,
      taskQueue: q.erp,
      activities: createErpActivities({ erp: deps.erp }),
      maxTaskQueueActivitiesPerSecond: QUEUE_LIMITS.erp.perSecond,
      maxConcurrentActivityTaskExecutions: QUEUE_LIMITS.erp.concurrency,
    }),
    Worker.create({
      ...common,
      taskQueue: q.dispatch,
      activities: dispatchActivities,
      maxTaskQueueActivitiesPerSecond: QUEUE_LIMITS.dispatch.perSecond,
      maxConcurrentActivityTaskExecutions: QUEUE_LIMITS.dispatch.concurrency,
    }),
    Worker.create({
      ...common,
      taskQueue: q.crm,
      activities: createCrmActivities({ crm: deps.crm }),
      maxTaskQueueActivitiesPerSecond: QUEUE_LIMITS.crm.perSecond,
      maxConcurrentActivityTaskExecutions: QUEUE_LIMITS.crm.concurrency,
    }),
  ]);
  const run = Promise.all(workers.map((w) => w.run())).then(async () => {
    await clientConnection.close();
    await connection.close();
  });
  return {
    workers,
    run,
    shutdown: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await run;
    },
  };
}
