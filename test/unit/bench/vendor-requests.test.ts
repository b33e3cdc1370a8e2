import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { loadConfig } from '../../../src/platform/config.js';
import { requestSnapshot, vendorBudgets, vendorRequestFigures } from '../../../tools/bench/measure.js';

describe('vendor requests in the bench', () => {
  let crm: CrmSandbox;
  beforeAll(async () => {
    crm = await startCrmSandbox({ seed: 11, rateLimitPerMinute: 1_000_000 });
  });
  afterAll(async () => {
    await crm.close();
  });

  it('when API calls reach a sandbox then /__sandbox/requests counts each by route template, and its own pages are not counted', async () => {
    const http = axios.create({
      baseURL: crm.url,
      auth: { username: 'bench@example.com/token', password: 'x' },
      validateStatus: () => true,
    });
    const before = requestSnapshot(crm.faults.requests);
    await http.get('/api/v2/tickets/1.json');
    await http.get('/api/v2/tickets/2.json');
    await http.get('/api/v2/users/me.json');
    await http.get('/__sandbox/faults');
    const counts = (await http.get('/__sandbox/requests')).data as {
      total: number;
      byRoute: Record<string, number>;
    };
    expect(counts.total - before.total).toBe(3);
    expect(
      counts.byRoute['GET /api/v2/tickets/:id']! - (before.byRoute['GET /api/v2/tickets/:id'] ?? 0),
    ).toBe(2);
  });

  it('when a run is summed then requests per shipment and the share of the vendor budget come out of the counts', () => {
    const figures = vendorRequestFigures(
      vendorBudgets(loadConfig({ SHIPSYNC_ENV: 'sandbox' })).crm,
      { total: 100, byRoute: { 'POST /api/v2/tickets.json': 100 } },
      { total: 1_500, byRoute: { 'POST /api/v2/tickets.json': 600, 'PUT /api/v2/tickets/:id.json': 900 } },
      500,
      120,
    );
    // 1,400 requests in 120 s against 700 a minute (1,400 allowed): the whole budget.
    expect(figures).toEqual({
      requests: 1_400,
      perShipment: 2.8,
      budget: '700 requests/min',
      budgetShare: 1,
      byRoute: { 'PUT /api/v2/tickets/:id.json': 900, 'POST /api/v2/tickets.json': 500 },
    });
  });

  it('when the worker is given half the Zendesk plan then the same requests use twice the share of its budget', () => {
    const budgets = vendorBudgets(
      loadConfig({
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_CRM_REQUESTS_PER_MINUTE: '350',
        SHIPSYNC_DISPATCH_REQUESTS_PER_SECOND: '10',
      }),
    );
    expect(budgets.crm.label).toBe('350 requests/min');
    expect(budgets.dispatch).toEqual({ perSecond: 10, label: '10 requests/s' });
    expect(budgets.erp).toEqual({ perSecond: 50, label: '50 requests/s' });
    const figures = vendorRequestFigures(
      budgets.crm,
      { total: 0, byRoute: {} },
      { total: 700, byRoute: { 'POST /api/v2/tickets.json': 700 } },
      500,
      60,
    );
    expect(figures.budgetShare).toBe(2);
  });
});
