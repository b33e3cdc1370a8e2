import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConverterFromConfig } from '../../src/platform/codec.js';
import { loadConfig } from '../../src/platform/config.js';
import { connectClient } from '../support/temporal.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  const config = loadConfig({
    SHIPSYNC_ENV: 'sandbox',
    SHIPSYNC_PAYLOAD_KEY: randomBytes(32).toString('base64'),
  });
  stack = await startStack({ dataConverter: dataConverterFromConfig(config) });
});
afterAll(async () => {
  await stack?.close();
});

describe('encrypted payloads', () => {
  it('when a payload key is configured then the history Temporal stores holds no recipient name, and shipsync still reads its shipments', async () => {
    const { order, workflowId } = await stack.start();
    const status = await stack.waitFor(workflowId, (s) => s.phase === 'published');
    expect(status.deliveryId).toBe(order.deliveryId);
    const { client: plain, connection } = await connectClient();
    try {
      const history = await plain.workflow.getHandle(workflowId).fetchHistory();
      const payloads = (history.events ?? []).flatMap((e) => [
        ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
        ...(e.activityTaskScheduledEventAttributes?.input?.payloads ?? []),
      ]);
      expect(payloads.length).toBeGreaterThan(1);
      for (const p of payloads) {
        expect(Buffer.from(p.metadata?.encoding ?? []).toString()).toBe('binary/encrypted');
        const bytes = Buffer.from(p.data ?? []).toString('latin1');
        expect(bytes).not.toContain(order.recipient.name);
        expect(bytes).not.toContain(order.address.street);
      }
    } finally {
      await connection.close();
    }
  });
});
