import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { requestSnapshot, vendorRequestFigures } from '../../../tools/bench/measure.js';

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
      'crm',
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
});
