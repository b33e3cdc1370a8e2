import { defaultPayloadConverter, toPayloads } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time.js';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
// The SDK's reusable-context workflow creator, the one a worker with `reuseV8Context` (the default) runs.
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm.js';
import { workflowBundleOptions } from '../../src/workers/workers.js';

/** A workflow as the creator returns it. */
type ProbeWorkflow = Awaited<ReturnType<ReusableVMWorkflowCreator['createWorkflow']>>;

/**
 * The workflows of one bundle, created in one reusable V8 context as a worker's workflow thread creates
 * them when runs enter its cache (`bench:workflow-memory`, and the test that keeps zod out of a cached
 * shipment run).
 */
export interface WorkflowProbe {
  bundleKiB: number;
  /** Creates the next workflow of the bundle's type. */
  create(): Promise<ProbeWorkflow>;
  /**
   * Starts a created workflow with these arguments, as its first workflow task does: it runs until it
   * waits (for its first activity, a timer or a signal); a failed first task throws.
   */
  start(workflow: ProbeWorkflow, args: unknown[]): Promise<void>;
  /**
   * The bundle modules a created workflow evaluated for itself, by bundle path (`./src/...`,
   * `./node_modules/...`): the SDK keeps one module cache per run.
   */
  modulesOf(workflow: ProbeWorkflow): string[];
  dispose(): Promise<void>;
}

export async function workflowProbe(workflowsPath: string, workflowType: string): Promise<WorkflowProbe> {
  const bundle = await bundleWorkflowCode(
    workflowBundleOptions({ workflowsPath, logger: new DefaultLogger('ERROR') }),
  );
  // The parts a worker takes from a bundle: its code without the inline source map, and the map.
  const mapAt = bundle.code.lastIndexOf('\n//# sourceMappingURL=data:application/json;base64,');
  const sourceMap = JSON.parse(
    Buffer.from(bundle.code.slice(bundle.code.indexOf('base64,', mapAt) + 7), 'base64').toString('utf8'),
  );
  const creator = await ReusableVMWorkflowCreator.create(
    { code: bundle.code.slice(0, mapAt), filename: '/workflow-probe.js', sourceMap },
    5_000,
    new Set<string>(),
    undefined,
  );
  const created: ProbeWorkflow[] = [];
  return {
    bundleKiB: Math.round(bundle.code.length / 1024),
    async create() {
      const i = created.length;
      const runId = `workflow-probe-${i}`;
      const workflow = await creator.createWorkflow({
        info: {
          workflowId: runId,
          runId,
          workflowType,
          firstExecutionRunId: runId,
          originalExecutionRunId: runId,
          taskQueue: 'workflow-probe',
          namespace: 'default',
          attempt: 1,
          startTime: new Date(),
          runStartTime: new Date(),
          taskTimeoutMs: 10_000,
          historyLength: 3,
          historySize: 0,
          continueAsNewSuggested: false,
          searchAttributes: {},
          unsafe: { now: () => Date.now(), isReplaying: false },
        } as never,
        randomnessSeed: [i, 0, 0, 0],
        now: Date.now(),
        showStackTraceSources: false,
        failureExceptionTypeNames: [],
      });
      created.push(workflow);
      return workflow;
    },
    async start(workflow, args) {
      const i = created.indexOf(workflow);
      const runId = `workflow-probe-${i}`;
      const now = msToTs(Date.now());
      const completion = await workflow.activate({
        runId,
        timestamp: now,
        isReplaying: false,
        historyLength: 3,
        jobs: [
          {
            initializeWorkflow: {
              workflowId: runId,
              workflowType,
              arguments: toPayloads(defaultPayloadConverter, ...args),
              randomnessSeed: i,
              attempt: 1,
              firstExecutionRunId: runId,
              startTime: now,
            },
          },
        ],
      } as never);
      if (completion.failed)
        throw new Error(
          `workflow ${runId} failed its first task: ${String(completion.failed.failure?.message)}`,
        );
    },
    modulesOf(workflow) {
      // The run's activator holds its module cache (a protected field of the SDK's workflow object).
      const { activator } = workflow as unknown as { activator: { moduleCache: Map<string, unknown> } };
      return [...activator.moduleCache.keys()];
    },
    async dispose() {
      for (const w of created) await w.dispose();
      await creator.destroy();
    },
  };
}
