import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConverterFromConfig, payloadKeyId } from '../../src/platform/codec.js';
import { loadConfig } from '../../src/platform/config.js';
import { dispatchEventSignal, type ShipmentResult } from '../../src/workflows/shipment/contract.js';
import { erpMilestones } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';
import { connectClient } from '../support/temporal.js';
import { randomSecret } from './support.js';

const k1 = randomSecret();
const k2 = randomSecret();
/** The data converter of a deployment whose keyring is `keys` (SHIPSYNC_PAYLOAD_KEYS). */
const converter = (keys: string) =>
  dataConverterFromConfig(loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS: keys }));

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ dataConverter: converter(`k1:${k1}`) });
});
afterAll(async () => {
  await stack?.close();
});

async function drive(workflowId: string, types: Parameters<Stack['event']>[1][]) {
  for (const type of types)
    await stack.client.workflow
      .getHandle(workflowId)
      .signal(dispatchEventSignal, await stack.event(workflowId, type));
}

/** Every payload of a history with the event it belongs to, as Temporal stores it (read without a key). */
async function storedPayloads(workflowId: string) {
  const { client, connection } = await connectClient();
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? []).flatMap((e) => {
      const payloads = [
        ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
        ...(e.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []),
        ...(e.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
        ...(e.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
        ...(e.workflowExecutionCompletedEventAttributes?.result?.payloads ?? []),
      ];
      return payloads.map((p) => ({ eventId: Number(e.eventId), keyId: payloadKeyId(p) }));
    });
  } finally {
    await connection.close();
  }
}

describe('payload key rotation', () => {
  it('when the workers and clients restart with k2 current and k1 kept while shipments are in flight then every shipment closes, and what is written after the restart is under k2', async () => {
    const inFlight = await Promise.all([stack.start(), stack.start(), stack.start()]);
    for (const { workflowId } of inFlight) {
      await stack.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
      await drive(workflowId, ['route.assigned.v1', 'stop.started.v1']);
      await stack.waitFor(workflowId, (s) => s.phase === 'in_transit');
    }
    const before = new Map<string, number>();
    for (const { workflowId } of inFlight) {
      const payloads = await storedPayloads(workflowId);
      expect(new Set(payloads.map((p) => p.keyId)), workflowId).toEqual(new Set(['k1']));
      before.set(workflowId, Math.max(...payloads.map((p) => p.eventId)));
    }

    // A rolling restart: every worker and client now encrypts with k2 and still decrypts k1.
    await stack.restart(converter(`k2:${k2},k1:${k1}`));

    const after = await stack.start();
    for (const { workflowId } of [...inFlight, after]) {
      if (workflowId === after.workflowId) {
        await stack.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
        await drive(workflowId, ['route.assigned.v1', 'stop.started.v1']);
      }
      await drive(workflowId, ['stop.arrived.v1', 'delivery.completed.v1']);
    }
    const results: ShipmentResult[] = await Promise.all(
      // Handles of the new client: the old one's connection closed with the restart.
      [...inFlight, after].map(({ workflowId }) => stack.client.workflow.getHandle(workflowId).result()),
    );
    expect(results.map((r) => r.outcome)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    for (const { order } of [...inFlight, after])
      expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual([
        'PLANNED#1',
        'DISPATCHED#1',
        'DELIVERED#1',
        'BILLED#1',
      ]);

    for (const { workflowId } of inFlight) {
      const payloads = await storedPayloads(workflowId);
      const old = payloads.filter((p) => p.eventId <= before.get(workflowId)!);
      const fresh = payloads.filter((p) => p.eventId > before.get(workflowId)!);
      expect(new Set(old.map((p) => p.keyId)), workflowId).toEqual(new Set(['k1']));
      expect(fresh.length, workflowId).toBeGreaterThan(3);
      expect(new Set(fresh.map((p) => p.keyId)), workflowId).toEqual(new Set(['k2']));
    }
    const started = await storedPayloads(after.workflowId);
    expect(new Set(started.map((p) => p.keyId))).toEqual(new Set(['k2']));
  }, 120_000);
});
