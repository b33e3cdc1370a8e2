import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createOrchestrationActivities, STARTS_IN_FLIGHT } from '../../../src/activities/orchestration.js';
import { ShipmentSettings } from '../../../src/workflows/shipment/contract.js';
import { sampleOrder } from '../../support/fixtures.js';

/** A client whose starts each take a while; ids in `running` answer "already started". */
function slowClient(running: Set<string>) {
  let inFlight = 0;
  let peak = 0;
  const startedIds: string[] = [];
  const client = {
    workflow: {
      start: async (_type: string, o: { workflowId: string }) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          await sleep(20);
          if (running.has(o.workflowId))
            throw new WorkflowExecutionAlreadyStartedError(
              'already started',
              o.workflowId,
              'ShipmentWorkflow',
            );
          startedIds.push(o.workflowId);
        } finally {
          inFlight--;
        }
      },
    },
  } as unknown as Client;
  return { client, peak: () => peak, startedIds };
}

describe('startShipments', () => {
  it('when a page of orders is started then up to the bound run at once, each once, running ones attached', async () => {
    const orders = Array.from({ length: 35 }, (_, i) => sampleOrder({ deliveryId: String(80000100 + i) }));
    const running = new Set([`shipment-${orders[3]!.deliveryId}`, `shipment-${orders[20]!.deliveryId}`]);
    const fake = slowClient(running);
    const acts = createOrchestrationActivities({
      client: fake.client,
      clock: { scale: 1, anchorRealMs: 0, anchorSimMs: 0 },
      settings: ShipmentSettings.parse({}),
    });
    const t0 = Date.now();
    const result = await acts.startShipments({ orders });
    expect(result).toEqual({ started: 33, attached: 2 });
    expect(new Set(fake.startedIds).size).toBe(33);
    expect(fake.peak()).toBe(STARTS_IN_FLIGHT);
    // Four rounds of 20 ms, not 35 in a row.
    expect(Date.now() - t0).toBeLessThan(35 * 20);
  });
});
