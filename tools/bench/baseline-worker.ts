import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../../src/platform/config.js';
import { capWorkflowThreadHeap, QUEUE_LIMITS } from '../../src/workers/workers.js';
import { withoutWorkflowStackTraces } from '../../src/workers/stack-traces.js';
import { taskQueues } from '../../src/workflows/task-queues.js';
import { createBenchActivities } from './workflows/activities.js';
import { BASELINE_TASK_QUEUE_PREFIX } from './workflows/contract.js';

/*
 * The baseline worker, a process of its own so its memory and CPU are measured alone: the bare-Temporal
 * workflow with no-op activities, configured like the shipment worker (same slots, cache, workflow-thread heap,
 * workflow stack traces and per-queue limits). Started by the bench with SHIPSYNC_TEMPORAL_ADDRESS and BENCH_BASELINE_METRICS_PORT.
 */

const BASELINE_WORKFLOWS = fileURLToPath(new URL('./workflows/workflow.ts', import.meta.url));

/** Runs the baseline's workers configured like the shipment worker (same slots, cache and per-queue limits). */
async function runBaselineWorker(): Promise<void> {
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
  capWorkflowThreadHeap(config.SHIPSYNC_WORKER_HEAP_MB);
  const createWorkflowWorker = () =>
    Worker.create({
      ...common,
      taskQueue: q.shipments,
      workflowBundle,
      maxCachedWorkflows: config.SHIPSYNC_WORKER_CACHE_SIZE,
      maxConcurrentWorkflowTaskExecutions: config.SHIPSYNC_WORKER_WORKFLOW_SLOTS,
      maxConcurrentActivityTaskExecutions: 20,
      stickyQueueScheduleToStartTimeout: '10s',
    });
  const workers = await Promise.all([
    config.SHIPSYNC_WORKFLOW_STACK_TRACES
      ? createWorkflowWorker()
      : withoutWorkflowStackTraces(createWorkflowWorker),
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

await runBaselineWorker();
