import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEvent } from '../../../src/domain/events.js';
import { createCrmAdapter } from '../../../src/integrations/crm/adapter.js';
import { rescheduleWebhookToEvent } from '../../../src/integrations/crm/mappers.js';
import { verifyZendeskWebhook } from '../../../src/integrations/crm/signature.js';
import { startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { api, captureServer, waitFor, type Json } from './helpers.js';

const SECRET = 'crm-webhook-secret-for-tests';

/** Friday 4 December 2026, 14:00-18:00 UTC: the customer's next slot is Monday. */
const fridayPlan = {
  eta: '2026-12-04T15:20:00Z',
  window: { start: '2026-12-04T14:00:00Z', end: '2026-12-04T18:00:00Z' },
};
const mondayWindow = { start: '2026-12-07T14:00:00Z', end: '2026-12-07T18:00:00Z' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function sandboxWith(opts: Parameters<typeof startCrmSandbox>[0]): Promise<CrmSandbox> {
  const sandbox = await startCrmSandbox(opts);
  cleanups.push(() => sandbox.close());
  return sandbox;
}

async function gateway(answer?: Parameters<typeof captureServer>[0]) {
  const server = await captureServer(answer);
  cleanups.push(() => server.close());
  return server;
}

function notice(shipmentId: string, over: Record<string, unknown> = {}) {
  return {
    shipmentId,
    deliveryId: shipmentId.replace('shipment-', ''),
    customerId: 'C1001',
    message: 'Your delivery is planned for Friday between 14:00 and 18:00.',
    idempotencyKey: `${shipmentId}:notice:planned:1`,
    plan: fridayPlan,
    ...over,
  };
}

describe('simulated customers, api mode', () => {
  it('when an ETA notice is sent and the customer asks for another slot then the reschedule API gets the documented request', async () => {
    const api$ = await gateway(() => ({
      status: 200,
      body: { shipmentId: 'shipment-80000001', eta: '2026-12-07T15:10:00Z' },
    }));
    const sandbox = await sandboxWith({
      seed: 5,
      customers: { rescheduleRate: 1, mode: 'api', rescheduleApiUrl: api$.url, apiToken: 'dev-agent' },
    });
    const crm = createCrmAdapter({ baseUrl: sandbox.url });
    await crm.notifyCustomer(notice('shipment-80000001'));

    const record = await waitFor(async () => {
      const r = await api(sandbox.url, 'GET', '/__sandbox/reschedules');
      return (r.body.reschedules as Json[]).find((x) => x.response);
    });
    expect(api$.received).toHaveLength(1);
    const request = api$.received[0]!;
    const ticketId = String(record.ticketId);
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1/shipments/shipment-80000001/reschedule');
    expect(request.headers.authorization).toBe('Bearer dev-agent');
    expect(request.headers['idempotency-key']).toBe(`crm-reschedule-${ticketId}-1`);
    expect(request.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(request.rawBody)).toEqual({
      window: mondayWindow,
      reason: 'customer requested another slot',
      ticketId,
    });
    expect(record).toMatchObject({
      shipmentId: 'shipment-80000001',
      n: 1,
      mode: 'api',
      previousWindow: fridayPlan.window,
      requestedWindow: mondayWindow,
      response: { status: 200, body: { eta: '2026-12-07T15:10:00Z' } },
    });

    const comments = await waitFor(async () => {
      const c = await api(sandbox.url, 'GET', `/api/v2/tickets/${ticketId}/comments.json`);
      const list = c.body.comments as Json[];
      return list.some((x) => !x.public && String(x.body).includes('Reschedule API')) ? list : undefined;
    });
    const note = comments.find((c) => String(c.body).includes('Reschedule API'));
    expect(note.public).toBe(false);
    expect(note.body).toContain('HTTP 200');
  });

  it('when the reschedule API answers 503 first then the customer retries with the same idempotency key', async () => {
    const api$ = await gateway((_req, i) =>
      i === 0 ? { status: 503, body: { code: 'TEMPORAL_UNAVAILABLE' } } : { status: 200, body: { ok: true } },
    );
    const sandbox = await sandboxWith({
      customers: { rescheduleRate: 1, mode: 'api', rescheduleApiUrl: api$.url, apiToken: 'dev-agent' },
    });
    await createCrmAdapter({ baseUrl: sandbox.url }).notifyCustomer(notice('shipment-80000002'));
    await sandbox.drain();
    expect(api$.received.map((r) => r.headers['idempotency-key'])).toEqual([
      expect.stringMatching(/^crm-reschedule-\d+-1$/),
      api$.received[0]!.headers['idempotency-key'],
    ]);
    expect(sandbox.reschedules[0]).toMatchObject({ attempts: 2, response: { status: 200 } });
  });

  it.each([
    ['a notice without a plan', { plan: undefined, message: 'Your driver is on the way.' }, 1],
    ['a rate of 0', {}, 0],
  ])('when the sandbox sees %s then no reschedule is asked for', async (_n, over, rate) => {
    const api$ = await gateway();
    const sandbox = await sandboxWith({
      customers: { rescheduleRate: rate, mode: 'api', rescheduleApiUrl: api$.url, apiToken: 'dev-agent' },
    });
    await createCrmAdapter({ baseUrl: sandbox.url }).notifyCustomer(notice('shipment-80000003', over));
    await sandbox.drain();
    expect((await api(sandbox.url, 'GET', '/__sandbox/notifications')).body.count).toBe(1);
    expect(api$.received).toHaveLength(0);
    expect((await api(sandbox.url, 'GET', '/__sandbox/reschedules')).body.count).toBe(0);
  });

  it('when the revised ETA is announced then the customer does not ask again', async () => {
    const api$ = await gateway();
    const sandbox = await sandboxWith({
      customers: { rescheduleRate: 1, mode: 'api', rescheduleApiUrl: api$.url, apiToken: 'dev-agent' },
    });
    const crm = createCrmAdapter({ baseUrl: sandbox.url });
    await crm.notifyCustomer(notice('shipment-80000004'));
    await crm.notifyCustomer(
      notice('shipment-80000004', {
        idempotencyKey: 'shipment-80000004:notice:revised:1',
        plan: { eta: '2026-12-07T15:00:00Z', window: mondayWindow },
      }),
    );
    await sandbox.drain();
    expect(api$.received).toHaveLength(1);
  });
});

describe('simulated customers, webhook mode', () => {
  it('when the customer asks for another slot then a signed Zendesk webhook arrives that an independent check verifies', async () => {
    const receiver = await gateway(() => ({ status: 200, body: {} }));
    const sandbox = await sandboxWith({
      webhookUrl: `${receiver.url}/webhooks/crm`,
      webhookSecret: SECRET,
      customers: { rescheduleRate: 1, mode: 'webhook' },
    });
    await createCrmAdapter({ baseUrl: sandbox.url }).notifyCustomer(notice('shipment-80000010'));
    const hook = await waitFor(() => receiver.received[0]);

    const signature = hook.headers['x-zendesk-webhook-signature'] as string;
    const timestamp = hook.headers['x-zendesk-webhook-signature-timestamp'] as string;
    expect(hook.url).toBe('/webhooks/crm');
    expect(timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // Zendesk's documented algorithm, written out here: base64(HMACSHA256(TIMESTAMP + BODY)).
    const independent = createHmac('sha256', SECRET)
      .update(timestamp + hook.rawBody, 'utf8')
      .digest('base64');
    expect(signature).toBe(independent);

    const body: Json = JSON.parse(hook.rawBody);
    const ticketId = String(sandbox.reschedules[0]!.ticketId);
    expect(body).toMatchObject({
      type: 'zen:event-type:ticket.reschedule_requested',
      detail: { id: ticketId, external_id: 'shipment-80000010' },
      event: { requested_window: mondayWindow },
    });
    expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(body.time)).not.toBeNaN();

    const now = Date.parse(timestamp);
    const check = { secret: SECRET, signature, timestamp, rawBody: hook.rawBody, toleranceMs: 300_000, now };
    expect(verifyZendeskWebhook(check)).toEqual({ ok: true });
    expect(
      verifyZendeskWebhook({ ...check, rawBody: hook.rawBody.replace('2026-12-07T14', '2026-12-08T14') }),
    ).toEqual({
      ok: false,
      code: 'SIGNATURE_INVALID',
    });
    expect(verifyZendeskWebhook({ ...check, now: now + 301_000 })).toEqual({
      ok: false,
      code: 'SIGNATURE_STALE',
    });

    const event = rescheduleWebhookToEvent(body);
    expect(parseEvent(event)).toMatchObject({
      type: 'reschedule.requested.v1',
      subject: 'shipment-80000010',
      data: { window: mondayWindow, ticketId },
    });
  });

  it('when the duplicate fault is on then copies of one webhook carry one event id, so they map to one canonical event', async () => {
    const receiver = await gateway(() => ({ status: 200, body: {} }));
    const sandbox = await sandboxWith({
      webhookUrl: receiver.url,
      webhookSecret: SECRET,
      faults: { webhookDuplicateRate: 1, webhookDuplicateCopies: 3 },
      customers: { rescheduleRate: 1, mode: 'webhook' },
    });
    await createCrmAdapter({ baseUrl: sandbox.url }).notifyCustomer(notice('shipment-80000011'));
    await sandbox.drain();
    expect(receiver.received).toHaveLength(3);
    const ids = receiver.received.map((r) => rescheduleWebhookToEvent(JSON.parse(r.rawBody)).id);
    expect(new Set(ids).size).toBe(1);
  });
});
