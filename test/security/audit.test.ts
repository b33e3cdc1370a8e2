import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { registerAuditCommand } from '../../src/starters/audit.js';
import type { AuditEntry } from '../../src/storage/store.js';
import { startStack, type Stack } from '../support/stack.js';
import {
  call,
  P,
  post,
  startSecureGateway,
  type Answer,
  type SecureGateway,
  type TestPrincipal,
} from './support.js';

/** Every mutating route of the API, each as its own principal, against the real ShipmentWorkflow. */
let stack: Stack;
let gw: SecureGateway;
let workflowId: string;
let order: Awaited<ReturnType<Stack['start']>>['order'];

beforeAll(async () => {
  stack = await startStack();
  gw = await startSecureGateway(stack.client);
  ({ workflowId, order } = await stack.start());
  await stack.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
});

afterAll(async () => {
  await gw?.close();
  await stack?.close();
});

async function deadLetter(): Promise<number> {
  return gw.store.deadLetters.add({
    source: 'erp',
    stage: 'intake',
    reason: 'DeliveryDocument: expected a string',
    code: 'EVENT_SCHEMA_INVALID',
    payload: `{"d":{"DeliveryDocument":${Date.now()}}}`,
    headers: { 'content-type': 'application/json' },
    createdAt: new Date().toISOString(),
  });
}

async function auditRows(query: string, who: TestPrincipal = P.auditor) {
  return call<{ entries: AuditEntry[]; nextCursor?: string }>(gw.url, 'GET', `/v1/audit?${query}`, {
    headers: { authorization: `Bearer ${who.token}` },
  });
}

describe('audit trail', () => {
  it('when each mutating route is called then each call has an audit row with its principal, role, route, shipment, key and outcome', async () => {
    const letterA = await deadLetter();
    const letterB = await deadLetter();
    const calls: {
      who: TestPrincipal;
      role: string;
      path: string;
      route: string;
      body: unknown;
      key: string;
    }[] = [
      {
        who: P.agent,
        role: 'agent',
        path: `/v1/shipments/${workflowId}/reschedule`,
        route: 'POST /v1/shipments/:id/reschedule',
        body: {
          window: { start: '2026-12-02T15:00:00Z', end: '2026-12-02T17:00:00Z' },
          reason: 'customer call',
        },
        key: 'audit-reschedule',
      },
      {
        who: P.dispatcher,
        role: 'dispatcher',
        path: `/v1/shipments/${order.deliveryId}/address`,
        route: 'POST /v1/shipments/:id/address',
        body: { address: order.address },
        key: 'audit-address',
      },
      {
        who: P.financeA,
        role: 'finance',
        path: `/v1/shipments/${workflowId}/charges/approval`,
        route: 'POST /v1/shipments/:id/charges/approval',
        body: { approve: true },
        key: 'audit-approval',
      },
      {
        who: P.agent,
        role: 'agent',
        path: `/v1/shipments/${workflowId}/exceptions/resolve`,
        route: 'POST /v1/shipments/:id/exceptions/resolve',
        body: { kind: 'delay', resolution: 'customer informed' },
        key: 'audit-resolve',
      },
      {
        who: P.admin,
        role: 'admin',
        path: `/v1/dead-letters/${letterA}/replay`,
        route: 'POST /v1/dead-letters/:id/replay',
        body: {},
        key: 'audit-replay',
      },
      {
        who: P.admin,
        role: 'admin',
        path: `/v1/dead-letters/${letterB}/discard`,
        route: 'POST /v1/dead-letters/:id/discard',
        body: {},
        key: 'audit-discard',
      },
    ];
    const answers: Answer[] = [];
    for (const c of calls) answers.push(await post(gw.url, c.path, c.who, c.body, c.key));
    // The answers differ (accepted, refused by the shipment, a dead letter replayed); each is recorded.
    expect(answers.map((a) => a.status)).toEqual([200, 200, 409, 409, expect.any(Number), 200]);

    const rows = (await gw.store.audit.list({ limit: 50 })).reverse();
    for (const [i, c] of calls.entries()) {
      const row = rows.find((r) => r.idempotencyKey === c.key);
      expect(row, c.route).toMatchObject({
        principalId: c.who.id,
        principalKind: c.who.kind,
        role: c.role,
        method: 'POST',
        route: c.route,
        statusCode: answers[i]!.status,
        outcome: answers[i]!.status < 400 ? 'ok' : (answers[i]!.body.code as string),
      });
      if (c.route.startsWith('POST /v1/shipments')) expect(row?.shipmentId, c.route).toBe(workflowId);
      else expect(row?.target, c.route).toBe(String(c.path === calls[4]!.path ? letterA : letterB));
      expect(Date.now() - Date.parse(row!.at)).toBeLessThan(60_000);
    }
    expect(rows.find((r) => r.idempotencyKey === 'audit-approval')?.detail).toMatchObject({ approve: true });
  });

  it('when a principal is refused its route then the refusal is audited without a role; an unknown token is only counted', async () => {
    const res = await post(
      gw.url,
      `/v1/shipments/${workflowId}/charges/approval`,
      P.admin,
      {},
      'audit-refused',
    );
    expect(res.status).toBe(403);
    const unknown = await call(gw.url, 'POST', `/v1/shipments/${workflowId}/reschedule`, {
      headers: { authorization: 'Bearer not-a-known-token', 'idempotency-key': 'audit-unknown' },
      body: { window: { start: '2026-12-02T15:00:00Z', end: '2026-12-02T17:00:00Z' } },
    });
    expect(unknown.status).toBe(401);
    const rows = await gw.store.audit.list({ limit: 100 });
    expect(rows.find((r) => r.idempotencyKey === 'audit-refused')).toMatchObject({
      principalId: P.admin.id,
      role: null,
      statusCode: 403,
      outcome: 'FORBIDDEN',
    });
    expect(rows.find((r) => r.idempotencyKey === 'audit-unknown')).toBeUndefined();
    const metrics = await call(gw.url, 'GET', '/metrics');
    expect(String(metrics.body.text)).toMatch(/shipsync_gateway_auth_refusals_total [1-9]/);
  });

  it('when an auditor reads GET /v1/audit then it filters by shipment, principal and time and pages with a cursor; other roles may not read it', async () => {
    const byShipment = await auditRows(`shipment=${order.deliveryId}&limit=500`);
    expect(byShipment.status).toBe(200);
    expect(byShipment.body.entries.length).toBeGreaterThanOrEqual(4);
    expect(byShipment.body.entries.every((e) => e.shipmentId === workflowId)).toBe(true);
    const byPrincipal = await auditRows(`principal=${P.agent.id}`);
    expect(new Set(byPrincipal.body.entries.map((e) => e.principalId))).toEqual(new Set([P.agent.id]));
    const future = await auditRows(`from=${new Date(Date.now() + 3600_000).toISOString()}`);
    expect(future.body.entries).toEqual([]);

    const all = (await auditRows('limit=500')).body.entries;
    const pages: AuditEntry[] = [];
    let cursor: string | undefined;
    do {
      const page = await auditRows(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(...page.body.entries);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect((await auditRows('limit=2', P.admin)).status).toBe(200);
    expect((await auditRows('limit=2', P.financeA)).status).toBe(403);
    expect((await auditRows('cursor=not-a-cursor')).status).toBe(400);
  });

  it('when `shipsync audit --json` runs with an auditor token then it prints the rows of the shipment', async () => {
    const lines: string[] = [];
    const program = new Command('shipsync').option('--json').exitOverride();
    registerAuditCommand(program, {
      config: () => loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_GATEWAY_URL: gw.url }),
      out: (t) => lines.push(t),
    });
    await program.parseAsync(
      ['--json', 'audit', '--token', P.auditor.token, '--shipment', workflowId, '--all'],
      {
        from: 'user',
      },
    );
    const printed = JSON.parse(lines.join('\n')) as { entries: AuditEntry[] };
    expect(printed.entries.length).toBeGreaterThanOrEqual(4);
    expect(printed.entries.every((e) => e.shipmentId === workflowId)).toBe(true);
    lines.length = 0;
    await program.parseAsync(['audit', '--token', P.auditor.token, '--principal', P.financeA.id], {
      from: 'user',
    });
    expect(lines.join('\n')).toMatch(new RegExp(`${P.financeA.id} \\(person/finance\\)  charges\\.approve`));
  });
});
