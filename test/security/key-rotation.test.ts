import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConverterFromConfig, payloadKeyId } from '../../src/platform/codec.js';
import { loadConfig } from '../../src/platform/config.js';
import { dispatchEventSignal, type ShipmentResult } from '../../src/workflows/shipment/contract.js';
import { erpMilestones } from '../support/inspect.js';
import { startStack, workerIdentity, type Stack } from '../support/stack.js';
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

/** The id of the last event of a history. */
async function lastEventId(workflowId: string): Promise<number> {
  const { client, connection } = await connectClient();
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return Number(history.events?.at(-1)?.eventId ?? 0);
  } finally {
    await connection.close();
  }
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
      // The worker that completed an activity (its result was encoded there).
      const by = e.activityTaskCompletedEventAttributes?.identity ?? undefined;
      return payloads.map((p) => ({ eventId: Number(e.eventId), keyId: payloadKeyId(p), by }));
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

    // A restart of every worker and client: they now encrypt with k2 and still decrypt k1. While none runs,
    // note where each history stands: everything after that was written by the restarted processes.
    const lastBefore = new Map<string, number>();
    await stack.restart(converter(`k2:${k2},k1:${k1}`), async () => {
      for (const { workflowId } of inFlight) {
        const payloads = await storedPayloads(workflowId);
        expect(new Set(payloads.map((p) => p.keyId)), workflowId).toEqual(new Set(['k1']));
        lastBefore.set(workflowId, await lastEventId(workflowId));
      }
    });

    const after = await stack.start();
    await stack.waitFor(after.workflowId, (s) => s.phase === 'published' && !!s.taskId);
    await drive(after.workflowId, ['route.assigned.v1', 'stop.started.v1']);
    for (const { workflowId } of [...inFlight, after])
      await drive(workflowId, ['stop.arrived.v1', 'delivery.completed.v1']);
    const results: ShipmentResult[] = await Promise.all(
      // Handles of the new client: the old one's connection closed with the restart.
      [...inFlight, after].map(({ workflowId }) => stack.client.workflow.getHandle(workflowId).result()),
    );
    expect(results.map((r) => r.outcome)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    for (const { order } of [...inFlight, after])
      expect(await erpMilestones(stack.erp.url, order.deliveryId)).toEqual(
        expect.arrayContaining(['DELIVERED#1', 'BILLED#1']),
      );

    for (const { workflowId } of inFlight) {
      const payloads = await storedPayloads(workflowId);
      const cut = lastBefore.get(workflowId)!;
      const old = payloads.filter((p) => p.eventId <= cut);
      // Temporal writes an activity's completion after a workflow task under way at that moment, so a result
      // the stopped workers sent can land past the cut: it is theirs, under k1; all else past the cut is new.
      const oldWorkers = workerIdentity(stack.prefix, 1);
      const lateOld = payloads.filter((p) => p.eventId > cut && p.by === oldWorkers);
      expect(new Set(lateOld.map((p) => p.keyId)), workflowId).not.toContain('k2');
      const fresh = payloads.filter((p) => p.eventId > cut && p.by !== oldWorkers);
      expect(new Set(old.map((p) => p.keyId)), workflowId).toEqual(new Set(['k1']));
      // At least the two signals, the activities of delivery and billing and the result.
      expect(fresh.length, workflowId).toBeGreaterThan(3);
      expect(new Set(fresh.map((p) => p.keyId)), workflowId).toEqual(new Set(['k2']));
    }
    const started = await storedPayloads(after.workflowId);
    expect(new Set(started.map((p) => p.keyId))).toEqual(new Set(['k2']));
  }, 180_000);
});
