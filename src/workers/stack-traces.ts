import { createRequire } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';

/**
 * Workflow stack traces (`SHIPSYNC_WORKFLOW_STACK_TRACES`): the `__stack_trace` query behind the Temporal Web
 * UI's Stack Trace tab.
 *
 * To answer it, the SDK installs a V8 promise hook in each workflow thread that captures and source-maps a
 * stack for every promise the workflow code creates, on every activation, whether anyone ever asks or not.
 * That is about a fifth of a busy worker's CPU (docs/benchmarks.md). The SDK runs without it when the hook
 * cannot be installed: the query then answers "Workflow stack traces are not enabled on this worker" and
 * nothing else changes (histories, replay, the `status` query, failures and their stacks).
 *
 * With stack traces off, the shipment worker starts its workflow threads with a preload that refuses the
 * promise hook the SDK's workflow sandbox (`@temporalio/worker/lib/workflow/vm-shared.js`) asks for, and no
 * other: Node's own hooks (AsyncLocalStorage, which cancellation scopes use) are untouched. Each workflow
 * thread says once on stderr that stack trace collection is disabled; that line is the SDK's.
 */

/** Where the SDK installs its stack-trace hook from; the preload refuses calls whose direct caller is there. */
const SDK_HOOK_CALLER = String.raw`[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]vm-shared\.js$`;

/**
 * The preload each workflow thread runs before the SDK's thread module. It replaces
 * `v8.promiseHooks.createHook` with one that looks at its direct caller, read as a structured call site (not
 * the text of a stack, whose format the SDK's own `Error.prepareStackTrace` changes in that thread).
 */
const PRELOAD = `
import v8 from 'node:v8';
const hooks = v8.promiseHooks;
const createHook = hooks.createHook;
const sdkCaller = new RegExp(${JSON.stringify(SDK_HOOK_CALLER)});
function callerFile() {
  const prepare = Error.prepareStackTrace;
  const holder = {};
  try {
    Error.prepareStackTrace = (_, sites) => sites;
    Error.captureStackTrace(holder, hooks.createHook);
    return holder.stack?.[0]?.getFileName() ?? '';
  } finally {
    Error.prepareStackTrace = prepare;
  }
}
hooks.createHook = function (callbacks) {
  if (sdkCaller.test(callerFile())) {
    throw new Error('workflow stack traces are off (SHIPSYNC_WORKFLOW_STACK_TRACES)');
  }
  return createHook.call(this, callbacks);
};
`;

/** Node's `--import` argument that runs the preload. */
export const NO_STACK_TRACES_IMPORT = `data:text/javascript,${encodeURIComponent(PRELOAD)}`;

/** The SDK's workflow thread module, which `ThreadedVMWorkflowCreator` starts with `new Worker(path)`. */
const SDK_THREAD_MODULE = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread\.js$/;

/** Workflow threads this process started without the stack-trace hook (what the bench checks it measured). */
let threadsStarted = 0;

/** How many workflow threads `withoutWorkflowStackTraces` has started in this process. */
export function workflowThreadsWithoutStackTraces(): number {
  return threadsStarted;
}

/**
 * Runs `create` (the shipment worker's `Worker.create`, which starts its workflow threads) so that the
 * workflow threads it starts run without the SDK's stack-trace hook. The SDK starts them with no options,
 * so this hands them one `--import` on top of the process's own `execArgv`, for the duration of `create`
 * only; other threads are started as asked. Workers that one process creates at the same moment share it,
 * so a process runs its workers with one setting.
 */
export async function withoutWorkflowStackTraces<T>(create: () => Promise<T>): Promise<T> {
  // The CommonJS exports object the SDK reads `Worker` from at the moment it starts a thread.
  const threads = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  const Original = threads.Worker;
  class WorkflowThread extends Original {
    constructor(filename: string | URL, options?: WorkerThreads.WorkerOptions) {
      const path = filename instanceof URL ? filename.pathname : filename;
      const workflowThread = SDK_THREAD_MODULE.test(path);
      if (workflowThread) threadsStarted++;
      super(
        filename,
        workflowThread
          ? {
              ...options,
              execArgv: [...(options?.execArgv ?? process.execArgv), '--import', NO_STACK_TRACES_IMPORT],
            }
          : options,
      );
    }
  }
  threads.Worker = WorkflowThread;
  try {
    return await create();
  } finally {
    threads.Worker = Original;
  }
}
