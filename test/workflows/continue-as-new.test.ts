import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startDevServer, type DevServer } from '../../tools/temporal/cli.js';
import { dispatchEventSignal } from '../../src/workflows/shipment/contract.js';
import { erpMilestones } from '../support/inspect.js';
import { freePort } from '../support/ports.js';
import { startStack, type Stack } from '../support/stack.js';

let server: DevServer;
let stack: Stack;
beforeAll(async () => {
  // A server that suggests continue-as-new after 80 events, so a short test crosses a run boundary
  // while a planned shipment still has room for more ETA updates than the dedup window holds.
  server = await startDevServer({
    cliPath: inject('temporalCliPath'),
    port: await freePort(),
    namespace: 'default',
    headless: true,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 80 },
  });
  stack = await startStack({ address: server.address, settings: { eventDedupWindow: 4 } });
});
afterAll(async () => {
  await stack?.close();
  await server?.stop();
});

describe('long-lived shipments', () => {
  it('when history grows past the suggestion then the shipment continues as new and still ignores events it saw before', async () => {
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
    const assigned = await stack.event(workflowId, 'route.assigned.v1');
    await handle.signal(dispatchEventSignal, assigned);
    const firstRun = (await handle.describe()).runId;
    for (let i = 0; i < 40; i++) {
      await handle.signal(
        dispatchEventSignal,
        await stack.event(workflowId, 'stop.eta.v1', { driftSeconds: 30 + i }),
      );
    }
    await expect.poll(async () => (await handle.describe()).runId, { timeout: 30_000 }).not.toBe(firstRun);
    // The same assignment again, now in a later run: it must change nothing.
    await handle.signal(dispatchEventSignal, assigned);
    const status = await stack.waitFor(workflowId, (s) => s.eventsApplied >= 41);
    expect(status.milestones.filter((m) => m.milestone === 'planned')).toHaveLength(1);
    for (const type of ['stop.started.v1', 'delivery.completed.v1'] as const)
      await handle.signal(dispatchEventSignal, await stack.event(workflowId, type));
    const result = await stack.client.workflow.getHandle(workflowId).result();
    expect(result.outcome).toBe('delivered');
    expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
      'PLANNED#1',
      'DISPATCHED#1',
      'DELIVERED#1',
      'BILLED#1',
    ]);
  }, 180_000);

  it('when a planned shipment only hears ETA updates then it still continues as new, carrying a bounded set of event ids', async () => {
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
    await handle.signal(dispatchEventSignal, await stack.event(workflowId, 'route.assigned.v1'));
    // The planned milestone and notice are out: the shipment now only waits for the driver.
    await stack.waitFor(workflowId, (s) => s.milestones.some((m) => m.milestone === 'planned'));
    const firstRun = (await handle.describe()).runId;
    let sent = 0;
    await expect
      .poll(
        async () => {
          // ETA drift changes no phase and queues nothing: only the server's suggestion can wake the wait.
          await handle.signal(
            dispatchEventSignal,
            await stack.event(workflowId, 'stop.eta.v1', { driftSeconds: 30 + sent++ }),
          );
          return (await handle.describe()).runId;
        },
        { timeout: 60_000, interval: 50 },
      )
      .not.toBe(firstRun);
    // The first run heard more event ids than the window keeps, so the carried set was really cut.
    const firstHistory = await stack.client.workflow.getHandle(workflowId, firstRun).fetchHistory();
    const heard = (firstHistory.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes);
    expect(heard.length).toBeGreaterThan(4);
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0]?.data;
    const input = JSON.parse(Buffer.from(payload ?? []).toString()) as {
      carried: { seenEventIds: string[] };
    };
    expect(input.carried.seenEventIds.length).toBeLessThanOrEqual(4);
    const status = await stack.waitFor(workflowId, (s) => s.phase === 'planned');
    expect(status.milestones.filter((m) => m.milestone === 'planned')).toHaveLength(1);
  }, 120_000);
});
