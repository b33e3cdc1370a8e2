import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { onfleetWebhookToCanonical } from '../../src/integrations/dispatch/mappers.js';
import { secret } from '../../src/platform/config.js';
import { finishAll, onfleetPayload, startTestShipment, startTestWorker } from '../gateway/support.js';
import { requestersQuery } from '../gateway/workflows/shipment.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from '../support/temporal.js';
import { call, P, post, startSecureGateway, type SecureGateway } from './support.js';

const taskQueue = uniqueTaskQueue('security-hardening');
let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let gw: SecureGateway;
let shipmentId: string;

beforeAll(async () => {
  ({ client, connection } = await connectClient());
  worker = await startTestWorker(temporalAddress(), taskQueue);
  gw = await startSecureGateway(client);
  shipmentId = await startTestShipment(client, taskQueue);
});

afterAll(async () => {
  await finishAll(client, [shipmentId]);
  await gw?.close();
  await worker?.stop();
  await connection?.close();
});

/** Posts a dispatch webhook signed with the gateway's secret. */
function dispatchWebhook(payload: unknown) {
  const body = JSON.stringify(payload);
  return call(gw.url, 'POST', '/webhooks/dispatch', {
    raw: body,
    headers: {
      'x-onfleet-signature': signOnfleetWebhook(secret(gw.config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'), body),
    },
  });
}

describe('lookups keyed by input', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'when a signed Onfleet webhook names the trigger %s then it gets the "ignored" answer, like any unknown trigger',
    async (trigger) => {
      const payload = { ...onfleetPayload({ shipmentId, trigger: 'taskArrival' }), triggerName: trigger };
      const res = await dispatchWebhook(payload);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        accepted: true,
        ignored: true,
        reason: `trigger ${trigger} carries no shipment milestone`,
      });
      expect(onfleetWebhookToCanonical(payload, new Date().toISOString())).toMatchObject({ kind: 'ignored' });
    },
  );
});

describe('webhook bodies are parsed only once their signature holds', () => {
  it('when an unsigned or wrongly signed body arrives then it is refused without ever reaching the JSON parser', async () => {
    const marker = `never-parsed-${Date.now()}`;
    const body = JSON.stringify({ triggerName: 'taskArrival', marker });
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const unsigned = await call(gw.url, 'POST', '/webhooks/dispatch', { raw: body });
      const forged = await call(gw.url, 'POST', '/webhooks/dispatch', {
        raw: body,
        headers: { 'x-onfleet-signature': signOnfleetWebhook('a-guessed-secret-of-some-length', body) },
      });
      expect([unsigned.status, forged.status]).toEqual([401, 401]);
      expect(parse.mock.calls.filter(([text]) => String(text).includes(marker))).toEqual([]);
    } finally {
      parse.mockRestore();
    }
  });
});

describe('request bodies', () => {
  const path = () => `/v1/shipments/${shipmentId}/reschedule`;
  const window = () => {
    const start = Date.now() + 3 * 24 * 3600_000;
    return { start: new Date(start).toISOString(), end: new Date(start + 2 * 3600_000).toISOString() };
  };

  it.each([
    ['requestedBy', '/reschedule', { requestedBy: 'someone-else' }],
    ['correctedBy', '/address', { correctedBy: 'someone-else' }],
    ['approvedBy', '/charges/approval', { approvedBy: 'someone-else' }],
  ])(
    'when a body names %s then it is refused with 400 naming the field: the server sets it',
    async (field, route, extra) => {
      const res = await post(
        gw.url,
        `/v1/shipments/${shipmentId}${route}`,
        route === '/charges/approval' ? P.financeA : P.agent,
        {
          window: window(),
          ...extra,
        },
      );
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', field });
    },
  );

  it.each([
    ['reason', { reason: 'x'.repeat(501) }],
    ['ticketId', { ticketId: 'T'.repeat(101) }],
    ['reason', { reason: 'line\u0000break' }],
  ])(
    'when the free-text field %s is too long or holds control characters then it is refused',
    async (field, extra) => {
      const res = await post(gw.url, path(), P.agent, { window: window(), ...extra });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', field });
    },
  );

  it('when an exception resolution is over 1000 characters then it is refused', async () => {
    const res = await post(gw.url, `/v1/shipments/${shipmentId}/exceptions/resolve`, P.agent, {
      kind: 'delay',
      resolution: 'y'.repeat(1001),
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', field: 'resolution' });
  });

  it('when a reschedule is accepted then the shipment receives the principal as requestedBy', async () => {
    const res = await post(gw.url, path(), P.agent, { window: window(), reason: 'customer asked' });
    expect(res.status).toBe(200);
    expect(await client.workflow.getHandle(shipmentId).query(requestersQuery)).toEqual([P.agent.id]);
  });
});
