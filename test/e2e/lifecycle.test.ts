import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '../../src/gateway/app.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { type CrmSandbox } from '../../sandbox/crm/index.js';
import {
  SHIPMENT_WEBHOOK_TRIGGERS,
  startDispatchSandbox,
  type DispatchSandbox,
} from '../../sandbox/dispatch/index.js';
import { reconcile } from '../../tools/reconcile.js';
import { openStore, type Store } from '../../src/storage/store.js';
import type { ShipmentResult } from '../../src/workflows/shipment/contract.js';
import { freePort } from '../support/ports.js';
import { SIM_START, startStack, type Stack } from '../support/stack.js';

/**
 * The whole path over real HTTP: the dispatch sandbox's driver simulator plays the routes and sends
 * signed webhooks, each three times and some out of order, to the gateway, which keeps them in its
 * inbox and forwards them to the shipment workflows; ERP and CRM effects are then reconciled.
 */
let stack: Stack;
let gateway: Gateway;
let store: Store;
let dispatch: DispatchSandbox;
let crm: CrmSandbox;
let dir: string;
let gatewayUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipsync-e2e-'));
  const gatewayPort = await freePort();
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  stack = await startStack({ scale: 2400, settings: { missingPodMinutes: 600 } });
  const config = loadConfig({
    SHIPSYNC_ENV: 'sandbox',
    SHIPSYNC_GATEWAY_PORT: String(gatewayPort),
    SHIPSYNC_DATA_DIR: dir,
    SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix,
    SHIPSYNC_LOG_LEVEL: 'silent',
  });
  // The stack's own dispatch sandbox has no webhooks; this one plays the routes and sends them.
  await stack.dispatch.close();
  dispatch = await startDispatchSandbox({
    port: Number(new URL(stack.dispatch.url).port),
    seed: 11,
    clock: stack.clock,
    webhookSecret: config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
    simulator: { enabled: true, failureRate: 0.25, delayRate: 0.2, damageRate: 0.1 },
    planning: { timeLimitMs: 300 },
    faults: { webhookDuplicateRate: 1, webhookDuplicateCopies: 3, webhookReorderRate: 0.3 },
    webhooks: SHIPMENT_WEBHOOK_TRIGGERS.map((trigger) => ({
      url: `${gatewayUrl}/webhooks/dispatch`,
      trigger,
    })),
  });
  crm = stack.crm;
  store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
  gateway = await createGateway({
    config,
    client: stack.client,
    store,
    logger: createLogger({ level: 'silent' }),
    defaultMetrics: false,
  });
  await gateway.listen({ host: '127.0.0.1', port: gatewayPort });
  gateway.forwarder.start();
});

afterAll(async () => {
  await gateway?.close();
  await store?.close();
  await dispatch?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('end to end through the gateway', () => {
  it('when every webhook arrives three times and some out of order then each event reaches its workflow once and ERP and CRM see each effect once', async () => {
    const starts: Awaited<ReturnType<Stack['start']>>[] = [];
    for (let i = 0; i < 6; i++) {
      const minutes = 510 + i * 60;
      const start = new Date(SIM_START + minutes * 60_000).toISOString();
      const end = new Date(SIM_START + (minutes + 180) * 60_000).toISOString();
      starts.push(await stack.start({ requestedWindow: { start, end } }));
    }
    // Damage or a redelivery with waiting time can push accessorials past the approval threshold; finance
    // approves through the gateway, as it would in production, or the shipment rightly waits for it.
    const approveWhenAsked = async (s: Awaited<ReturnType<Stack['start']>>) => {
      const st = await stack.waitFor(
        s.workflowId,
        (x) => x.phase === 'awaiting_approval' || x.phase === 'closed',
        220_000,
      );
      if (st.phase !== 'awaiting_approval') return;
      const res = await axios.post(
        `${gatewayUrl}/v1/shipments/${s.workflowId}/charges/approval`,
        { approve: true },
        {
          headers: { authorization: 'Bearer dev-finance', 'idempotency-key': `e2e-approve-${s.workflowId}` },
        },
      );
      expect(res.status).toBe(200);
    };
    const results = new Map<string, ShipmentResult>();
    await Promise.all(
      starts.map(async (s) => {
        await approveWhenAsked(s);
        results.set(s.workflowId, await s.handle.result());
      }),
    );

    for (const s of starts) {
      const history = await s.handle.fetchHistory();
      const ids = (history.events ?? [])
        .map((e) => e.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0])
        .filter((p) => p !== undefined && p !== null)
        .map((p) => defaultPayloadConverter.fromPayload<{ id: string }>(p).id);
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size, `${s.workflowId} got a signal twice`).toBe(ids.length);
    }
    const duplicatesSent = dispatch.sender.log.length;
    expect(duplicatesSent).toBeGreaterThan(3 * starts.length);

    const reconciliation = await reconcile({
      client: stack.client,
      taskQueuePrefix: stack.prefix,
      erpUrl: stack.erp.url,
      dispatchUrl: dispatch.url,
      crmUrl: crm.url,
      orders: starts.map((s) => s.order),
      results,
    });
    expect(reconciliation.mismatches).toEqual([]);
    expect(reconciliation.billingDocuments).toBe(starts.length);
  }, 240_000);
});
