import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchEventSignal } from '../../src/workflows/shipment/contract.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * The Temporal Web UI's Stack Trace tab asks a run's worker the `__stack_trace` query. The worker answers it
 * only with SHIPSYNC_WORKFLOW_STACK_TRACES=true; by default it says so, and the shipment goes on as ever.
 */
const STACK_TRACE_QUERY = '__stack_trace';

let off: Stack;
let on: Stack;
beforeAll(async () => {
  // One after the other: workers that one process creates at the same moment share the setting.
  off = await startStack();
  on = await startStack({ workflowStackTraces: true });
});
afterAll(async () => {
  await Promise.all([off?.close(), on?.close()]);
});

describe('workflow stack traces', () => {
  it('when stack traces are off (the default) then the stack trace query says so and the shipment runs to its close', async () => {
    const { workflowId, handle } = await off.start();
    await off.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
    await expect(handle.query(STACK_TRACE_QUERY)).rejects.toThrow(
      'Workflow stack traces are not enabled on this worker',
    );
    for (const type of ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'] as const)
      await handle.signal(dispatchEventSignal, await off.event(workflowId, type));
    expect((await handle.result()).outcome).toBe('delivered');
  }, 120_000);

  it('when stack traces are on then the query shows where the shipment waits, in the workflow source', async () => {
    const { workflowId, handle } = await on.start();
    await on.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
    const trace = await handle.query<string>(STACK_TRACE_QUERY);
    expect(trace).toMatch(/src\/workflows\/shipment\/[a-z-]+\.ts:\d+/);
  }, 120_000);
});
