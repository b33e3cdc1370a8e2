import { Runtime } from '@temporalio/worker';
import { bulkFromConfig } from '../integrations/bulk.js';
import { crmAdapterFromConfig } from '../integrations/crm/adapter.js';
import { createDispatchAdapter } from '../integrations/dispatch/adapter.js';
import { createErpAdapter } from '../integrations/erp/adapter.js';
import { ZipGeocoder } from '../integrations/geo/geocoder.js';
import { dataConverterFromConfig } from '../platform/codec.js';
import { allocatorProblem, allocatorWarning, loadedAllocator } from '../platform/allocator.js';
import { secret, type Config } from '../platform/config.js';
import { loadConfigOrExit } from '../platform/entry.js';
import { checkVendorAuth, vendorCredentialsFromConfig } from '../integrations/auth-check.js';
import { createLogger, temporalLogger } from '../platform/logger.js';
import { describeTemporalConnection, temporalConnectionOptions } from '../platform/temporal-client.js';
import { clockFromConfig, settingsFromConfig } from '../platform/shipments.js';
import { taskQueues } from '../workflows/task-queues.js';
import { capWorkflowThreadHeap, createWorkers, workflowHeapProblem } from './workers.js';
import { openStore, storeTargetFromConfig, type Store } from '../storage/store.js';

/**
 * The gateway's store, opened once when a release pass or a reconciliation first needs it
 * (SHIPSYNC_DATABASE_URL, else the SQLite file in SHIPSYNC_DATA_DIR); a failed open is tried again on the
 * next call.
 */
function lazyStore(config: Config): () => Promise<Store> {
  let opening: Promise<Store> | undefined;
  return async () => {
    opening ??= openStore(storeTargetFromConfig(config)).catch((err: unknown) => {
      opening = undefined;
      throw err;
    });
    return opening;
  };
}

/** `npm run worker`: the workflow worker and the erp, dispatch and crm activity workers in one process. */
async function main() {
  const config = loadConfigOrExit('worker');
  const heapProblem = workflowHeapProblem(config.SHIPSYNC_WORKER_CACHE_SIZE, config.SHIPSYNC_WORKER_HEAP_MB);
  if (heapProblem) {
    console.error(`worker: ${heapProblem}`);
    process.exit(2);
  }
  const allocator = loadedAllocator();
  const allocatorRefusal = allocatorProblem(config.SHIPSYNC_ALLOCATOR, allocator);
  if (allocatorRefusal) {
    console.error(`worker: ${allocatorRefusal}`);
    process.exit(2);
  }
  const logger = createLogger({ level: config.SHIPSYNC_LOG_LEVEL, name: 'worker' });
  // The SDK's own lines (worker, workflow `log`, activity `log`) go through the same pino logger and redaction.
  Runtime.install({
    logger: temporalLogger(logger),
    telemetryOptions: config.SHIPSYNC_WORKER_METRICS_PORT
      ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${config.SHIPSYNC_WORKER_METRICS_PORT}` } } }
      : undefined,
  });
  const allocatorNote = allocatorWarning(config.SHIPSYNC_ALLOCATOR, allocator);
  if (allocatorNote) logger.warn({ allocator }, allocatorNote);
  const temporal = temporalConnectionOptions(config);
  const vendors = vendorCredentialsFromConfig(config);
  // One line per vendor that refuses our credential, at start, so a wrong key is seen before a shipment
  // needs it; the worker still starts (the vendor may be fixed while it runs, activities retry).
  void checkVendorAuth(vendors).then((results) => {
    for (const r of results) {
      if (r.status === 'failed')
        logger.error(
          { vendor: r.vendor, detail: r.detail },
          `${r.vendor} refused shipsync's credential: check its SHIPSYNC_* keys (.env.example)`,
        );
      else if (r.status === 'unreachable')
        logger.warn(
          { vendor: r.vendor, detail: r.detail },
          `${r.vendor} credential not checked: vendor unreachable`,
        );
    }
  });
  const store = lazyStore(config);
  capWorkflowThreadHeap(config.SHIPSYNC_WORKER_HEAP_MB);
  const running = await createWorkers({
    ...temporal,
    namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE,
    taskQueuePrefix: config.SHIPSYNC_TASK_QUEUE_PREFIX,
    clock: clockFromConfig(config),
    settings: settingsFromConfig(config),
    erp: createErpAdapter({
      baseUrl: config.SHIPSYNC_ERP_URL,
      logger: logger.child({ system: 'erp' }),
      ...(vendors.erp.basic
        ? { username: vendors.erp.basic.username, password: vendors.erp.basic.password }
        : {}),
      ...(vendors.erp.oauth ? { oauth: vendors.erp.oauth } : {}),
      priceListTtlMs: config.SHIPSYNC_ERP_PRICE_LIST_TTL_SECONDS * 1000,
      requestsPerSecond: config.SHIPSYNC_ERP_REQUESTS_PER_SECOND,
      bulk: bulkFromConfig(config, config.SHIPSYNC_ERP_BULK_WINDOW_MS),
    }),
    dispatch: createDispatchAdapter({
      baseUrl: config.SHIPSYNC_DISPATCH_URL,
      apiKey: secret(config, 'SHIPSYNC_DISPATCH_API_KEY'),
      requestsPerSecond: config.SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND,
      bulk: bulkFromConfig(config),
    }),
    crm: crmAdapterFromConfig(config),
    geocoder: new ZipGeocoder(),
    cacheSize: config.SHIPSYNC_WORKER_CACHE_SIZE,
    workflowSlots: config.SHIPSYNC_WORKER_WORKFLOW_SLOTS,
    workflowStackTraces: config.SHIPSYNC_WORKFLOW_STACK_TRACES,
    nonStickyPollRatio: config.SHIPSYNC_WORKER_NONSTICKY_POLL_RATIO,
    dataConverter: dataConverterFromConfig(config),
    deadLetters: async () => (await store()).deadLetters,
    reconciliationReports: async () => (await store()).reconciliation,
  });
  logger.info(
    {
      taskQueues: taskQueues(config.SHIPSYNC_TASK_QUEUE_PREFIX),
      temporal: config.SHIPSYNC_TEMPORAL_ADDRESS,
      transport: describeTemporalConnection(temporal),
      allocator,
      workflowStackTraces: config.SHIPSYNC_WORKFLOW_STACK_TRACES,
    },
    'workers running',
  );
  // The SDK's runtime shuts the workers down gracefully on SIGINT/SIGTERM; run resolves once they drained.
  await running.run;
  logger.info('workers stopped');
}

main().catch((err: unknown) => {
  console.error(`worker: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
