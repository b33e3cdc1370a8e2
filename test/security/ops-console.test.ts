import type { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../support/temporal.js';
import { as, call, P, post, startSecureGateway, type SecureGateway } from './support.js';

/** The console's files and JSON routes: who may read, who may rebuild, and that bad input gets a typed 4xx. */
let gw: SecureGateway;
let connection: Connection;

beforeAll(async () => {
  const c = await connectClient();
  connection = c.connection;
  // A task-queue prefix of its own, so a rebuild lists no other test's shipments.
  gw = await startSecureGateway(c.client, { SHIPSYNC_TASK_QUEUE_PREFIX: `ops${Date.now().toString(36)}-` });
});

afterAll(async () => {
  await gw?.close();
  await connection?.close();
});

describe('the ops console routes', () => {
  it('when a browser asks for /ops then it gets the page, its script and chart.js from node_modules, with a CSP', async () => {
    const page = await fetch(`${gw.url}/ops/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/ops/app.js');
    // The script loads chart.js itself, only on the view that draws charts.
    expect(await (await fetch(`${gw.url}/ops/app.js`)).text()).toContain('/ops/vendor/chart.umd.min.js');
    const chart = await fetch(`${gw.url}/ops/vendor/chart.umd.min.js`);
    expect(chart.status).toBe(200);
    expect(await chart.text()).toContain('Chart');
    expect((await fetch(`${gw.url}/ops/app.js`)).status).toBe(200);
    for (const path of [
      '/ops/../package.json',
      '/ops/constructor',
      '/ops/index.html%00',
      '/ops/vendor/chart.js',
    ]) {
      const missing = await call(gw.url, 'GET', path);
      expect(missing.status, path).toBe(404);
    }
  });

  it('when the data is asked for without a token then it is refused; every role may read it', async () => {
    expect((await call(gw.url, 'GET', '/v1/ops/today')).status).toBe(401);
    for (const p of [P.agent, P.dispatcher, P.financeA, P.admin, P.auditor]) {
      const r = await call<{ total: number; kpis: unknown }>(gw.url, 'GET', '/v1/ops/today', {
        headers: as(p),
      });
      expect(r.status, p.id).toBe(200);
      expect(r.body.total).toBe(0);
    }
    const me = await call<{ principal: string; roles: string[] }>(gw.url, 'GET', '/v1/ops/me', {
      headers: as(P.financeA),
    });
    expect(me.body).toMatchObject({ principal: P.financeA.id, roles: ['finance'] });
  });

  it('when the input is bad then the answer names the field; an unknown shipment is a 404', async () => {
    const bad = await call(gw.url, 'GET', '/v1/ops/today?day=yesterday', { headers: as(P.agent) });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    const unknown = await call(gw.url, 'GET', '/v1/ops/shipments/NOPE0001', { headers: as(P.agent) });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'SHIPMENT_NOT_FOUND' });
  });

  it('when an agent asks for a rebuild then it is refused; an admin rebuilds and the audit trail says so', async () => {
    const refused = await post(gw.url, '/v1/ops/ods/rebuild', P.agent, {});
    expect(refused.status).toBe(403);
    const done = await post(gw.url, '/v1/ops/ods/rebuild', P.admin, {});
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ shipments: 0, projected: 0, events: 0, tasks: 0, cases: 0 });
    const rows = await gw.store.audit.list({ principalId: P.admin.id, limit: 5 });
    expect(rows.some((r) => r.action === 'ods.rebuild' && r.outcome === 'ok')).toBe(true);
  });
});
