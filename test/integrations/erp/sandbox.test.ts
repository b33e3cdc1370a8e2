import axios, { type AxiosRequestConfig } from 'axios';
import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Order } from '../../../src/domain/model.js';
import { orderFromDelivery } from '../../../src/integrations/erp/mappers.js';
import { REGIONS, lookupZip } from '../../../sandbox/erp/regions.js';
import {
  DELIVERY_SERVICE_PATH,
  MILESTONE_SERVICE_PATH,
  startErpSandbox,
  type ErpSandbox,
} from '../../../sandbox/erp/server.js';
import { csrfSession, effectsOf } from './support.js';

const DATE = '2026-12-01';

function localMinutes(iso: string, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
  }).formatToParts(new Date(iso));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return get('hour') * 60 + get('minute');
}

describe('ERP sandbox seeding', () => {
  it('when two sandboxes use the same seed then they seed the same orders, and another seed differs', async () => {
    const a = await startErpSandbox({ seed: 42 });
    const b = await startErpSandbox({ seed: 42 });
    const c = await startErpSandbox({ seed: 43 });
    try {
      const first = a.seed(30, { date: DATE });
      expect(b.seed(30, { date: DATE })).toEqual(first);
      expect(c.seed(30, { date: DATE })).not.toEqual(first);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('when 200 deliveries are seeded then addresses are real, windows are 2-4 h within 08:00-18:00 local on a service day', async () => {
    const sb = await startErpSandbox({ seed: 3 });
    try {
      const orders = sb.seed(200, { date: DATE });
      for (const o of orders) {
        expect(Order.safeParse(o).success).toBe(true);
        const zip = lookupZip(o.address.postalCode);
        expect([zip?.city, zip?.state]).toEqual([o.address.city, o.address.state]);
        const tz = (REGIONS[o.region] ?? { timeZone: 'UTC' }).timeZone;
        const start = localMinutes(o.requestedWindow.start, tz);
        const length = (Date.parse(o.requestedWindow.end) - Date.parse(o.requestedWindow.start)) / 60_000;
        expect(start).toBeGreaterThanOrEqual(8 * 60);
        expect(start + length).toBeLessThanOrEqual(18 * 60);
        expect([120, 180, 240]).toContain(length);
        expect(o.serviceDays).toContain(2);
      }
      expect(new Set(orders.map((o) => o.region))).toEqual(new Set(['CHI', 'DAL', 'ATL', 'PHX', 'NYC']));
      expect(orders.some((o) => o.hazmat)).toBe(true);
      expect(orders.some((o) => o.liftgate)).toBe(true);
      expect(orders.some((o) => o.pallets === 0) && orders.some((o) => o.pallets > 2)).toBe(true);
    } finally {
      await sb.close();
    }
  });

  it('when the mismatch rate is 1 then every seeded ZIP belongs to another city than the address says', async () => {
    const sb = await startErpSandbox({ seed: 9 });
    try {
      const orders = sb.seed(20, { date: DATE, regions: ['DAL', 'PHX'], mismatchRate: 1 });
      for (const o of orders) expect(lookupZip(o.address.postalCode)?.city).not.toBe(o.address.city);
      expect(new Set(orders.map((o) => o.region))).toEqual(new Set(['DAL', 'PHX']));
    } finally {
      await sb.close();
    }
  });

  it('when seeding over HTTP with an unknown region then the answer is a 400 OData error naming it', async () => {
    const sb = await startErpSandbox({ seed: 9 });
    try {
      const res = await axios.post(
        `${sb.url}/__sandbox/seed`,
        { count: 2, regions: ['MARS'] },
        { validateStatus: () => true },
      );
      expect(res.status).toBe(400);
      expect(res.data.error.message.value).toContain('regions/0');
      const ok = await axios.post<{ deliveries: string[] }>(`${sb.url}/__sandbox/seed`, {
        count: 2,
        date: DATE,
        regions: ['ATL'],
      });
      expect(ok.data.deliveries).toEqual(['80000001', '80000002']);
    } finally {
      await sb.close();
    }
  });
});

describe('ERP sandbox release push', () => {
  it('when deliveries are released then each is pushed once with the bearer token as OData header JSON', async () => {
    const received: { auth: string | undefined; body: unknown }[] = [];
    const receiver = Fastify();
    receiver.post('/erp/releases', async (req) => {
      received.push({ auth: req.headers.authorization, body: req.body });
      return { ok: true };
    });
    await receiver.listen({ port: 0, host: '127.0.0.1' });
    const address = receiver.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const sb = await startErpSandbox({
      seed: 4,
      releasePushUrl: `http://127.0.0.1:${port}/erp/releases`,
      releasePushToken: 'push-secret',
    });
    try {
      const orders = sb.seed(3, { date: DATE });
      await sb.drainReleasePushes();
      expect(received.map((r) => r.auth)).toEqual([
        'Bearer push-secret',
        'Bearer push-secret',
        'Bearer push-secret',
      ]);
      expect(received.map((r) => orderFromDelivery(r.body))).toEqual(orders);
    } finally {
      await sb.close();
      await receiver.close();
    }
  });
});

describe('ERP sandbox persistence', () => {
  const dir = mkdtempSync(join(tmpdir(), 'erp-sandbox-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when the sandbox restarts on the same SQLite file then deliveries, milestones and replay memory survive', async () => {
    const dbFile = join(dir, 'erp.db');
    const first = await startErpSandbox({ seed: 8, dbFile });
    const [order] = first.seed(1, { date: DATE });
    const id = order?.deliveryId ?? '';
    const body = {
      DeliveryDocument: id,
      MilestoneCode: 'DISPATCHED',
      AttemptNumber: 1,
      OccurredAt: `/Date(${Date.UTC(2026, 11, 1, 13)}+0000)/`,
    };
    const post = async (url: string) => {
      const { token, cookie } = await csrfSession(url);
      return axios.post(`${url}${MILESTONE_SERVICE_PATH}YY1_ShipmentMilestone`, body, {
        headers: {
          'x-csrf-token': token,
          cookie,
          'repeatability-request-id': '2b0f6a52-1f0e-4b8a-9d55-2f0c1a7e9b10',
        },
      });
    };
    const created = await post(first.url);
    await first.close();
    const second = await startErpSandbox({ seed: 8, dbFile });
    try {
      const replay = await post(second.url);
      expect(replay.data.d.SAP_UUID).toBe(created.data.d.SAP_UUID);
      expect((await effectsOf(second.url, 'milestone', id)).map((e) => e.count)).toEqual([1]);
      const next = second.seed(1, { date: DATE });
      expect(next[0]?.deliveryId).toBe(String(Number(id) + 1));
    } finally {
      await second.close();
    }
  });
});

describe('ERP sandbox OData dialect', () => {
  let sb: ErpSandbox;
  let base: string;
  const get = (path: string, config: AxiosRequestConfig = {}) =>
    axios.get(`${base}${path}`, { validateStatus: () => true, ...config });
  beforeAll(async () => {
    sb = await startErpSandbox({ seed: 21 });
    sb.seed(12, { date: DATE });
    base = `${sb.url}${DELIVERY_SERVICE_PATH}`;
  });
  afterAll(async () => sb.close());

  it('when a collection is filtered with ge and and, counted and paged then V2 JSON comes back with __count', async () => {
    const res = await get(
      "A_OutbDeliveryHeader?$filter=DeliveryDocument ge '80000004' and OverallGoodsMovementStatus eq 'A'&$skip=2&$top=3&$inlinecount=allpages&$select=DeliveryDocument&$format=json",
    );
    expect(res.status).toBe(200);
    expect(res.data.d.__count).toBe('9');
    expect(res.data.d.results.map((r: { DeliveryDocument: string }) => r.DeliveryDocument)).toEqual([
      '80000006',
      '80000007',
      '80000008',
    ]);
  });

  it('when a collection is larger than the server page then __next links to the rest', async () => {
    const big = await startErpSandbox({ seed: 2 });
    try {
      big.seed(1005, { date: DATE });
      const first = await axios.get(
        `${big.url}${DELIVERY_SERVICE_PATH}A_OutbDeliveryHeader?$select=DeliveryDocument`,
      );
      expect(first.data.d.results).toHaveLength(1000);
      const rest = await axios.get(String(first.data.d.__next));
      expect(rest.data.d.results.map((r: { DeliveryDocument: string }) => r.DeliveryDocument)).toEqual([
        '80001001',
        '80001002',
        '80001003',
        '80001004',
        '80001005',
      ]);
      expect(rest.data.d.__next).toBeUndefined();
    } finally {
      await big.close();
    }
  });

  it('when an entity is read then the ETag header equals __metadata.etag and navigation is deferred', async () => {
    const res = await get("A_OutbDeliveryHeader('80000001')");
    expect(res.headers.etag).toBe(res.data.d.__metadata.etag);
    expect(res.data.d.to_DeliveryDocumentItem.__deferred.uri).toMatch(
      /A_OutbDeliveryHeader\('80000001'\)\/to_DeliveryDocumentItem$/,
    );
    const items = await get("A_OutbDeliveryHeader('80000001')/to_DeliveryDocumentItem");
    expect(items.data.d.results[0]).toMatchObject({
      DeliveryDocument: '80000001',
      DeliveryDocumentItem: '000010',
    });
    const address = await get("A_OutbDeliveryPartner(PartnerFunction='WE',SDDocument='80000001')/to_Address");
    expect(address.data.d).toMatchObject({ Country: 'US' });
    const count = await get('A_OutbDeliveryHeader/$count');
    expect(count.data).toBe(12);
  });

  const badQueries: [string, number][] = [
    ['A_OutbDeliveryHeader?$top=-1', 400],
    ['A_OutbDeliveryHeader?$filter=DeliveryDocument gt 80000001', 400],
    ["A_OutbDeliveryHeader?$filter=(DeliveryDocument eq '1'", 400],
    ['A_OutbDeliveryHeader?$expand=to_Nowhere', 400],
    ['A_OutbDeliveryHeader?$format=xml', 415],
    ['A_OutbDeliveryHeader?$search=x', 400],
    ["A_OutbDeliveryHeader('99999999')", 404],
    ['A_Nothing', 404],
  ];
  for (const [path, status] of badQueries) {
    it(`when GET ${path} then the answer is ${status} with an OData error body`, async () => {
      const res = await get(path);
      expect(res.status).toBe(status);
      expect(res.data.error).toMatchObject({
        code: expect.any(String),
        message: { lang: 'en', value: expect.any(String) },
      });
    });
  }

  it('when a write comes without a CSRF token then 403 says X-CSRF-Token: Required', async () => {
    const res = await axios.post(`${base}PostGoodsIssue?DeliveryDocument='80000001'`, undefined, {
      validateStatus: () => true,
    });
    expect([res.status, res.headers['x-csrf-token']]).toEqual([403, 'Required']);
  });

  it('when a MERGE is tunnelled through POST with If-Match then the header changes and the ETag moves', async () => {
    const { token, cookie } = await csrfSession(sb.url);
    const before = await get("A_OutbDeliveryHeader('80000002')");
    const res = await axios.post(
      `${base}A_OutbDeliveryHeader('80000002')`,
      { BillOfLading: 'BOL-123' },
      {
        headers: {
          'x-csrf-token': token,
          cookie,
          'x-http-method': 'MERGE',
          'if-match': String(before.headers.etag),
        },
        validateStatus: () => true,
      },
    );
    expect(res.status).toBe(204);
    const after = await get("A_OutbDeliveryHeader('80000002')");
    expect(after.data.d.BillOfLading).toBe('BOL-123');
    expect(after.headers.etag).not.toBe(before.headers.etag);
    const stale = await axios.patch(
      `${base}A_OutbDeliveryHeader('80000002')`,
      { BillOfLading: 'BOL-124' },
      {
        headers: { 'x-csrf-token': token, cookie, 'if-match': String(before.headers.etag) },
        validateStatus: () => true,
      },
    );
    expect(stale.status).toBe(412);
  });

  it('when a read-only property is patched or a Repeatability-Request-ID is not a UUID then the answer is 400', async () => {
    const { token, cookie } = await csrfSession(sb.url);
    const etag = String((await get("A_OutbDeliveryHeader('80000003')")).headers.etag);
    const headers = { 'x-csrf-token': token, cookie, 'if-match': etag };
    const readOnly = await axios.patch(
      `${base}A_OutbDeliveryHeader('80000003')`,
      { ShipToParty: '1' },
      { headers, validateStatus: () => true },
    );
    expect([readOnly.status, readOnly.data.error.innererror.errordetails[0].target]).toEqual([
      400,
      'ShipToParty',
    ]);
    const badId = await axios.patch(
      `${base}A_OutbDeliveryHeader('80000003')`,
      { BillOfLading: 'X' },
      {
        headers: { ...headers, 'repeatability-request-id': 'not-a-uuid' },
        validateStatus: () => true,
      },
    );
    expect([badId.status, badId.headers['repeatability-result']]).toEqual([400, 'rejected']);
  });
});
