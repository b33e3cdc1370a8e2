import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createErpAdapter } from '../../../src/integrations/erp/adapter.js';
import { startErpSandbox, type ErpSandbox } from '../../../sandbox/erp/server.js';
import { csrfSession } from './support.js';

const SERVICES = [
  'API_OUTBOUND_DELIVERY_SRV;v=0002',
  'API_OUTBOUND_DELIVERY_SRV',
  'api_outbound_delivery_srv;v=0002;o=LOCAL',
  'YY1_SHIPMENTMILESTONE_CDS',
  'API_BILLING_DOCUMENT_REQUEST_SRV',
  'NO_SUCH_SRV',
  '',
];
const NAMES = [
  'A_OutbDeliveryHeader',
  'A_OutbDeliveryItem',
  'A_OutbDeliveryPartner',
  'A_OutbDeliveryAddress',
  'PostGoodsIssue',
  'YY1_ShipmentMilestone',
  'A_BillingDocumentRequest',
  'A_BillingDocumentRequestItem',
  'to_DeliveryDocumentItem',
  'to_DeliveryDocumentPartner',
  'to_Address',
  'to_Item',
  '$metadata',
  '$count',
  '$batch',
  '%E0%A4%A',
];
const KEYS = [
  '',
  "('80000001')",
  "('0080000002')",
  "('80000001'",
  '(80000001)',
  "(DeliveryDocument='80000001')",
  "(PartnerFunction='WE',SDDocument='80000001')",
  "(DeliveryDocument='80000001',DeliveryDocumentItem='10')",
  "(guid'00000000-0000-0000-0000-000000000000')",
  "('')",
  "(''')",
  '()',
];
const OPTIONS = [
  '$top',
  '$skip',
  '$filter',
  '$orderby',
  '$select',
  '$expand',
  '$inlinecount',
  '$format',
  '$skiptoken',
  '$search',
  'DeliveryDocument',
  'sap-client',
];
const VALUES = [
  "DeliveryDocument gt '80000001'",
  "OverallSDProcessStatus eq 'A' and DeliveryDocument ge '8'",
  "DeliveryDate gt datetime'2026-12-01T00:00:00'",
  "substringof('CH',ShippingPoint) eq true",
  'not (YY1_Pallets_DLH lt 2 or YY1_HazmatIndicator_DLH eq true)',
  'DeliveryDocument eq 80000001',
  '((((',
  '-1',
  '99999999999',
  'to_DeliveryDocumentItem,to_DeliveryDocumentPartner/to_Address',
  'DeliveryDocument desc,HeaderGrossWeight',
  'allpages',
  'json',
  "'80000001'",
];

const segment = fc.tuple(
  fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 24 }).map(encodeURIComponent)),
  fc.oneof(
    fc.constantFrom(...KEYS),
    fc.string({ maxLength: 16 }).map((s) => `('${encodeURIComponent(s)}')`),
  ),
);
const query = fc.array(
  fc.tuple(fc.constantFrom(...OPTIONS), fc.oneof(fc.constantFrom(...VALUES), fc.string({ maxLength: 40 }))),
  { maxLength: 4 },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 60 }),
  fc
    .record(
      {
        DeliveryDocument: fc.oneof(fc.constant('80000001'), fc.string({ maxLength: 12 })),
        MilestoneCode: fc.oneof(fc.constantFrom('PLANNED', 'DELIVERED'), fc.string({ maxLength: 8 })),
        AttemptNumber: fc.oneof(fc.integer({ min: -5, max: 120 }), fc.double(), fc.string({ maxLength: 3 })),
        OccurredAt: fc.oneof(fc.constant('/Date(1764594000000+0000)/'), fc.string({ maxLength: 20 })),
        DeliveryDate: fc.oneof(
          fc.constant('/Date(1764547200000)/'),
          fc.string({ maxLength: 20 }),
          fc.integer(),
        ),
        SoldToParty: fc.string({ maxLength: 12 }),
        ReferenceDocument: fc.constantFrom('80000001', '80000002', 'x'),
        TransactionCurrency: fc.constantFrom('USD', 'EUR'),
        TotalNetAmount: fc.oneof(fc.constant('10.00'), fc.string({ maxLength: 8 })),
        to_Item: fc.oneof(
          fc.constant({
            results: [
              { Material: 'BASE', BillingQuantity: '1', BillingQuantityUnit: 'EA', NetAmount: '10.00' },
            ],
          }),
          fc.anything({ maxDepth: 2 }),
        ),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'MERGE'),
  service: fc.constantFrom(...SERVICES),
  segments: fc.array(segment, { maxLength: 3 }),
  query,
  csrf: fc.constantFrom('valid', 'none', 'garbage', 'Fetch'),
  ifMatch: fc.option(fc.constantFrom('*', 'W/"x"', '', `W/"'20261130170000.0000000'"`, '"a", W/"b"')),
  repeatabilityId: fc.option(fc.oneof(fc.uuid(), fc.constantFrom('not-a-uuid', '', '0'.repeat(32)))),
  firstSent: fc.option(fc.constantFrom('Tue, 01 Dec 2026 10:00:00 GMT', 'yesterday')),
  contentType: fc.option(
    fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/xml'),
  ),
  tunnel: fc.option(fc.constantFrom('MERGE', 'DELETE', 'PUT', 'PATCH', 'GET', 'FOO')),
  body,
});

describe('ERP sandbox under malformed requests', () => {
  let sandbox: ErpSandbox;
  let session: { token: string; cookie: string };
  beforeAll(async () => {
    sandbox = await startErpSandbox({ seed: 13 });
    sandbox.seed(5, { date: '2026-12-01' });
    session = await csrfSession(sandbox.url);
  });
  afterAll(async () => sandbox.close());

  it('when random paths, options, headers and bodies are sent then every answer is below 500 and errors are OData errors', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = r.segments.map(([name, key]) => `${name}${key}`).join('/');
        const qs = r.query
          .map(([k, v]) => `${encodeURIComponent(k).replace('%24', '$')}=${encodeURIComponent(v)}`)
          .join('&');
        const url = `${sandbox.url}/sap/opu/odata/sap/${r.service}/${path}${qs ? `?${qs}` : ''}`;
        const headers: Record<string, string> = {};
        if (r.csrf === 'valid')
          Object.assign(headers, { 'x-csrf-token': session.token, cookie: session.cookie });
        if (r.csrf === 'garbage')
          Object.assign(headers, { 'x-csrf-token': 'garbage', cookie: 'SAP_SESSIONID_S4H_100=nope' });
        if (r.csrf === 'Fetch') headers['x-csrf-token'] = 'Fetch';
        if (r.ifMatch !== null) headers['if-match'] = r.ifMatch;
        if (r.repeatabilityId !== null) headers['repeatability-request-id'] = r.repeatabilityId;
        if (r.firstSent !== null) headers['repeatability-first-sent'] = r.firstSent;
        if (r.contentType !== null) headers['content-type'] = r.contentType;
        if (r.tunnel !== null) headers['x-http-method'] = r.tunnel;
        const res = await fetch(url, {
          method: r.method,
          headers,
          body: r.method === 'GET' ? undefined : r.body,
        });
        const text = await res.text();
        expect(res.status, `${r.method} ${url} -> ${res.status} ${text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) {
          const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: { value?: unknown } } };
          expect(typeof parsed.error?.code).toBe('string');
          expect(typeof parsed.error?.message?.value).toBe('string');
        }
      }),
      { numRuns: 400 },
    );
    const erp = createErpAdapter({ baseUrl: sandbox.url });
    expect((await erp.getDelivery('80000003')).deliveryId).toBe('80000003');
  });
});
