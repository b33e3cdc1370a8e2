import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DispatchEvent, DispatchEventType } from '../../src/domain/events.js';
import { dispatchEventSignal } from '../../src/workflows/shipment/contract.js';
import { browserSkipReason, launchBrowser } from '../support/browser.js';
import { SIM_START, startStack, type Stack } from '../support/stack.js';
import { P, startSecureGateway, type SecureGateway, type TestPrincipal } from '../security/support.js';

/**
 * The ops console in headless Chromium against a real gateway, real workers and the sandboxes: dispatch
 * events enter through the gateway's durable inbox (as webhooks do), the ODS follows, and the console shows
 * it. SHIPSYNC_CONSOLE_SCREENSHOTS=1 writes a screenshot of each view to docs/console/.
 */
const SCREENSHOTS = process.env.SHIPSYNC_CONSOLE_SCREENSHOTS === '1';
const SHOT_DIR = fileURLToPath(new URL('../../docs/console/', import.meta.url));

let stack: Stack;
let gw: SecureGateway;
let browser: Browser;

async function screenshot(page: Page, name: string) {
  if (!SCREENSHOTS) return;
  mkdirSync(SHOT_DIR, { recursive: true });
  await page.screenshot({ path: `${SHOT_DIR}${name}.png`, fullPage: true });
}

/** A new page signed in as a principal, on the today view. */
async function signedIn(p: TestPrincipal): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${gw.url}/ops/`);
  await page.fill('#token', p.token);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('[data-testid=principal]');
  expect(await page.textContent('[data-testid=principal]')).toContain(p.id);
  return page;
}

/** Puts a canonical dispatch event into the gateway's inbox, the way an accepted webhook does. */
async function viaGateway(event: DispatchEvent) {
  await gw.store.inbox.insert({
    eventId: event.id,
    source: 'dispatch',
    type: event.type,
    shipmentId: event.subject,
    payload: event,
    headers: {},
    receivedAt: new Date().toISOString(),
  });
  gw.gateway.forwarder.notify();
}

async function play(
  workflowId: string,
  types: DispatchEventType[],
  data: Partial<Record<DispatchEventType, Record<string, unknown>>> = {},
) {
  for (const type of types) {
    // The driver arrives half an hour into the window (07:00-09:00 simulated), whatever the test's pace.
    const at =
      type === 'stop.arrived.v1' || type === 'delivery.completed.v1' ? SIM_START + 120 * 60_000 : undefined;
    const event = await stack.event(workflowId, type, data[type] ?? {}, at);
    await viaGateway(event);
    await expect
      .poll(async () => (await gw.store.inbox.get(event.id))?.status, { timeout: 20_000 })
      .toBe('delivered');
  }
}

describe.skipIf(!!browserSkipReason)('the ops console in a browser', () => {
  beforeAll(async () => {
    stack = await startStack({ settings: { approvalThreshold: 50 } });
    gw = await startSecureGateway(stack.client, {
      SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix,
      SHIPSYNC_TIME_SCALE: String(stack.clock.scale),
      SHIPSYNC_CLOCK_ANCHOR_REAL_MS: String(stack.clock.anchorRealMs),
      SHIPSYNC_CLOCK_ANCHOR_SIM: new Date(SIM_START).toISOString(),
      SHIPSYNC_ODS_SWEEP_SECONDS: '0.5',
    });
    gw.gateway.ods.start();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await stack?.close();
  });

  let delivered: string;
  let delayed: string;

  it('when a dispatcher signs in and shipments play then the live counts change and the timeline shows the stop', async () => {
    const page = await signedIn(P.dispatcher);
    await page.waitForSelector('[data-testid=total]');
    const total = async () => Number(await page.textContent('[data-testid=total]'));
    const before = await total();

    const a = await stack.start();
    const b = await stack.start();
    await expect.poll(total, { timeout: 20_000 }).toBe(before + 2);
    delivered = a.workflowId;
    delayed = b.workflowId;

    await stack.waitFor(a.workflowId, (s) => s.phase === 'published' && !!s.taskId);
    await play(a.workflowId, [
      'route.assigned.v1',
      'stop.started.v1',
      'stop.arrived.v1',
      'delivery.completed.v1',
    ]);
    await expect
      .poll(
        async () =>
          page
            .locator('[data-testid=count-delivered], [data-testid=count-closed], [data-testid=count-billing]')
            .count(),
        {
          timeout: 20_000,
        },
      )
      .toBeGreaterThan(0);
    await expect
      .poll(async () => page.textContent('[data-testid=kpi-on-time]'), { timeout: 20_000 })
      .toMatch(/%/);
    await screenshot(page, 'today');

    await page.goto(`${gw.url}/ops/#/shipment/${a.workflowId}`);
    await page.waitForSelector('[data-testid=timeline]');
    const timeline = await page.textContent('[data-testid=timeline]');
    expect(timeline).toContain('route.assigned.v1');
    expect(timeline).toContain('stop.arrived.v1');
    expect(timeline).toContain('milestone.planned');
    expect(await page.textContent('[data-testid=stops]')).toContain('yes');
    expect(await page.getAttribute('[data-testid=temporal-link]', 'href')).toContain(a.workflowId);
    await screenshot(page, 'shipment');

    // The other one runs three hours late: a delay case opens and the exceptions view lists it.
    await stack.waitFor(b.workflowId, (s) => s.phase === 'published' && !!s.taskId);
    await play(b.workflowId, ['route.assigned.v1', 'stop.started.v1', 'delivery.delayed.v1'], {
      'delivery.delayed.v1': { delaySeconds: 3 * 3600 },
    });
    await stack.waitFor(b.workflowId, (s) => s.openCases.some((c) => c.kind === 'delay'));
    await page.goto(`${gw.url}/ops/#/exceptions`);
    await expect
      .poll(async () => page.textContent('[data-testid=exceptions-table]'), { timeout: 20_000 })
      .toContain(b.workflowId);
    expect(await page.textContent('[data-testid=exceptions-table]')).toContain('delay');
    await screenshot(page, 'exceptions');
    await page.click(`[data-testid=exceptions-table] a[data-shipment="${b.workflowId}"]`);
    await page.waitForSelector('[data-testid=timeline]');
    expect(await page.textContent('[data-testid=timeline]')).toContain('case.opened');
    await page.close();
  });

  it('when charges wait for finance then an agent sees no approve button and finance approves', async () => {
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, (s) => s.phase === 'published' && !!s.taskId);
    for (const type of ['route.assigned.v1', 'stop.started.v1', 'delivery.completed.v1'] as const) {
      const data =
        type === 'delivery.completed.v1' ? { accessorials: { liftgate: true, waitingMinutes: 0 } } : {};
      await handle.signal(dispatchEventSignal, await stack.event(workflowId, type, data));
    }
    await stack.waitFor(workflowId, (s) => s.awaitingApproval);

    const agent = await signedIn(P.agent);
    await agent.goto(`${gw.url}/ops/#/invoices`);
    await agent.waitForSelector(`[data-row="${workflowId}"]`, { timeout: 20_000 });
    expect(await agent.locator(`[data-approve="${workflowId}"]`).count()).toBe(0);
    await agent.close();

    const finance = await signedIn(P.financeA);
    await finance.goto(`${gw.url}/ops/#/invoices`);
    await finance.waitForSelector(`[data-approve="${workflowId}"]`, { timeout: 20_000 });
    await screenshot(finance, 'invoice-ready');
    await finance.click(`[data-approve="${workflowId}"]`);
    await expect
      .poll(async () => finance.textContent(`[data-approval-result="${workflowId}"]`), { timeout: 20_000 })
      .toContain(`approved by ${P.financeA.id}`);
    await handle.result();
    const audit = await gw.store.audit.list({ shipmentId: workflowId, limit: 10 });
    expect(audit.some((e) => e.action === 'charges.approve' && e.principalId === P.financeA.id)).toBe(true);
    await finance.close();
  });

  it('when a dead letter waits then an admin replays it from the console and the event reaches the inbox', async () => {
    const event = await stack.event(delivered, 'stop.eta.v1', { driftSeconds: 60 });
    const id = await gw.store.deadLetters.add({
      source: 'dispatch',
      stage: 'delivery',
      eventId: event.id,
      eventType: event.type,
      shipmentId: delivered,
      reason: 'kept for the console test',
      code: 'TEMPORAL_UNAVAILABLE',
      payload: JSON.stringify(event),
      headers: {},
      createdAt: new Date().toISOString(),
    });

    const dispatcher = await signedIn(P.dispatcher);
    expect(await dispatcher.locator('nav a[data-view="dead-letters"]').count()).toBe(0);
    await dispatcher.close();

    const admin = await signedIn(P.admin);
    await admin.goto(`${gw.url}/ops/#/dead-letters`);
    await admin.waitForSelector(`[data-letter="${id}"]`);
    await admin.click(`[data-show="${id}"]`);
    await admin.waitForSelector('[data-testid=letter-payload]');
    await screenshot(admin, 'dead-letters');
    await admin.click(`[data-replay="${id}"]`);
    await expect
      .poll(async () => admin.textContent(`[data-letter-result="${id}"]`), { timeout: 20_000 })
      .toContain('replayed');
    expect((await gw.store.deadLetters.get(id))?.status).toBe('replayed');
    expect(await gw.store.inbox.get(event.id)).toBeDefined();

    await admin.goto(`${gw.url}/ops/#/health`);
    await admin.waitForSelector('[data-testid=vendors]');
    expect(await admin.textContent('[data-testid=vendors]')).toContain('dispatch');
    await screenshot(admin, 'health');
    await admin.close();
    await stack.client.workflow.getHandle(delayed).terminate('console test done');
  });

  it('when Prometheus scrapes /metrics then the business KPIs are there', async () => {
    const res = await fetch(`${gw.url}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/shipsync_kpi_shipments\{region="CHI",day="2026-12-01",phase="[a-z_]+"\} \d+/);
    expect(text).toMatch(/shipsync_kpi_on_time_ratio\{region="CHI",day="2026-12-01"\} [\d.]+/);
    if (SCREENSHOTS) {
      const lines = text.split('\n').filter((l) => /^(# (HELP|TYPE) )?shipsync_(kpi_|inbox_backlog)/.test(l));
      writeFileSync(
        fileURLToPath(new URL('../../docs/console-metrics-example.txt', import.meta.url)),
        `# GET /metrics after the console browser test (business KPIs only)\n${lines.join('\n')}\n`,
      );
    }
  });

  it('when more cases are open than a page holds then the exceptions view shows the oldest and pages on', async () => {
    // A backlog the ODS holds from an earlier day: 150 open cases of shipments that are no longer running.
    const opened = Date.parse('2026-11-20T08:00:00.000Z');
    await gw.store.db.kysely
      .insertInto('ods_cases')
      .values(
        Array.from({ length: 150 }, (_, i) => ({
          case_key: `shipment-backlog${i}:${i}`,
          shipment_id: `shipment-backlog${i}`,
          case_id: String(90_000 + i),
          kind: 'address_mismatch',
          region: 'CHI',
          opened_at: new Date(opened + i * 60_000).toISOString(),
        })),
      )
      .execute();
    const page = await signedIn(P.agent);
    await page.goto(`${gw.url}/ops/#/exceptions`);
    const rows = page.locator('[data-testid=exceptions-table] tbody tr');
    await expect.poll(async () => rows.count(), { timeout: 20_000 }).toBe(100);
    // Oldest first: the first row is the backlog's first case; the tile counts every open case of its kind.
    expect(await rows.first().textContent()).toContain('90000');
    expect(Number(await page.textContent('[data-testid=kind-address_mismatch]'))).toBeGreaterThanOrEqual(150);
    await page.click('[data-testid=exceptions-more]');
    await expect
      .poll(async () => page.textContent('[data-testid=exceptions-table]'), { timeout: 20_000 })
      .toContain('90149');
    // Both pages are on the screen now, and the last page has no button for more.
    await expect.poll(async () => rows.count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(150);
    expect(await page.locator('[data-testid=exceptions-more]').count()).toBe(0);
    await page.close();
  });
});
