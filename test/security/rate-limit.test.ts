import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { rateLimitsFromConfig } from '../../src/gateway/rate-limit.js';
import { temporalAddress } from '../support/temporal.js';
import { as, call, P, startSecureGateway, type SecureGateway } from './support.js';

// These routes answer from the gateway's own store, so no worker is needed; each test starts its own
// gateway with its own (low) limits.
let connection: Connection;
let client: Client;
let gw: SecureGateway | undefined;

beforeAll(() => {
  connection = Connection.lazy({ address: temporalAddress() });
  client = new Client({ connection, namespace: 'default' });
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});
afterAll(async () => {
  await connection?.close();
});

async function gateway(env: Record<string, string>) {
  gw = await startSecureGateway(client, env);
  return gw;
}

/** Sends `n` requests one after another and returns their statuses. */
async function statuses(n: number, send: () => Promise<{ status: number }>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send()).status);
  return out;
}

/** A raw request, for the headers of the answer. */
function raw(url: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body }),
  });
}

describe('rate limits', () => {
  it('when a principal goes over its limit then it gets 429 RATE_LIMITED with Retry-After and the usual error body', async () => {
    const { url } = await gateway({
      SHIPSYNC_RATE_LIMIT_API_PER_PRINCIPAL: '3',
      SHIPSYNC_RATE_LIMIT_WINDOW_SECONDS: '30',
    });
    expect(await statuses(3, () => call(url, 'GET', '/v1/dead-letters', { headers: as(P.admin) }))).toEqual([
      200, 200, 200,
    ]);
    const res = await raw(url, '/v1/dead-letters', as(P.admin));
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      code: 'RATE_LIMITED',
      message: expect.stringMatching(/^more than 3 requests in 30 s of this principal; retry in \d+ s$/),
    });
  });

  it('when one principal is limited then another principal from the same address is still served', async () => {
    const { url } = await gateway({ SHIPSYNC_RATE_LIMIT_API_PER_PRINCIPAL: '2' });
    await statuses(3, () => call(url, 'GET', '/v1/dead-letters', { headers: as(P.admin) }));
    expect((await call(url, 'GET', '/v1/dead-letters', { headers: as(P.admin) })).status).toBe(429);
    expect((await call(url, 'GET', '/v1/audit', { headers: as(P.auditor) })).status).toBe(200);
  });

  it('when one address sends more /v1 requests than its limit then it is refused before its token is checked, so guessing tokens is limited too', async () => {
    const { url } = await gateway({ SHIPSYNC_RATE_LIMIT_API_PER_IP: '3' });
    const guesses = await statuses(3, () =>
      call(url, 'GET', '/v1/dead-letters', { headers: { authorization: 'Bearer a-guessed-token-0001' } }),
    );
    expect(guesses).toEqual([401, 401, 401]);
    const next = await call(url, 'GET', '/v1/dead-letters', { headers: as(P.admin) });
    expect(next.status).toBe(429);
    expect(next.body).toMatchObject({
      code: 'RATE_LIMITED',
      message: expect.stringContaining('client address'),
    });
  });

  it('when the gateway is behind a proxy then the per-address limit counts each client the proxy names, not the proxy', async () => {
    const { url } = await gateway({
      SHIPSYNC_RATE_LIMIT_API_PER_IP: '2',
      SHIPSYNC_GATEWAY_BEHIND_PROXY: 'true',
    });
    const from = (ip: string) => () =>
      call(url, 'GET', '/v1/dead-letters', { headers: { ...as(P.admin), 'x-forwarded-for': ip } });
    expect(await statuses(3, from('203.0.113.7'))).toEqual([200, 200, 429]);
    expect(await statuses(2, from('198.51.100.9'))).toEqual([200, 200]);
  });

  it('when a webhook source goes over its limit then its webhooks get 429 with Retry-After while the other sources are still served', async () => {
    const { url } = await gateway({ SHIPSYNC_RATE_LIMIT_WEBHOOKS_PER_SOURCE: '2' });
    // Unsigned bodies: refused with 401, but counted, since the limit applies before the signature check.
    expect(await statuses(2, () => call(url, 'POST', '/webhooks/dispatch', { raw: '{}' }))).toEqual([
      401, 401,
    ]);
    const limited = await raw(url, '/webhooks/dispatch', {}, '{}');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({
      code: 'RATE_LIMITED',
      message: expect.stringContaining('webhook source'),
    });
    expect((await call(url, 'POST', '/webhooks/crm', { raw: '{}' })).status).toBe(401);
  });

  it('when requests are rate limited then the gateway metrics count them by limit and source', async () => {
    const { url } = await gateway({
      SHIPSYNC_RATE_LIMIT_API_PER_PRINCIPAL: '1',
      SHIPSYNC_RATE_LIMIT_WEBHOOKS_PER_SOURCE: '1',
    });
    await statuses(3, () => call(url, 'GET', '/v1/dead-letters', { headers: as(P.admin) }));
    await statuses(2, () => call(url, 'POST', '/webhooks/erp/releases', { raw: '{}' }));
    const text = await (await raw(url, '/metrics')).text();
    expect(text).toContain('shipsync_gateway_rate_limited_total{scope="principal",source="api"} 2');
    expect(text).toContain('shipsync_gateway_rate_limited_total{scope="source",source="erp"} 1');
  });

  it('when an audited route is rate limited then no audit row is written for the refused call', async () => {
    const { url, store } = await gateway({ SHIPSYNC_RATE_LIMIT_API_PER_PRINCIPAL: '1' });
    const discard = () =>
      call(url, 'POST', '/v1/dead-letters/999999/discard', {
        headers: { ...as(P.admin), 'idempotency-key': `k-${Math.random()}` },
      });
    expect((await discard()).status).toBe(404);
    expect((await discard()).status).toBe(429);
    const rows = await store.audit.list({ limit: 10, principalId: P.admin.id });
    expect(rows.map((r) => r.outcome)).toEqual(['DEAD_LETTER_NOT_FOUND']);
  });

  it('when nothing is configured then the limits are far above what the benchmarks send (870 webhooks/s, one principal per API client)', () => {
    const limits = rateLimitsFromConfig(loadConfig({ SHIPSYNC_ENV: 'sandbox' }));
    const perSecond = (n: number) => n / (limits.windowMs / 1000);
    expect(perSecond(limits.webhooksPerSource)).toBeGreaterThanOrEqual(2000);
    expect(perSecond(limits.apiPerPrincipal)).toBeGreaterThanOrEqual(100);
    expect(perSecond(limits.apiPerIp)).toBeGreaterThanOrEqual(200);
  });
});
