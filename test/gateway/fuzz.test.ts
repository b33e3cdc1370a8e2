import type { Client } from '@temporalio/client';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { signZendeskWebhook } from '../../src/integrations/crm/signature.js';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { secret } from '../../src/platform/config.js';
import { type Store } from '../../src/storage/store.js';
import { uniqueTaskQueue } from '../support/temporal.js';
import {
  asRole,
  erpPush,
  onfleetPayload,
  receivedIds,
  signedCrm,
  signedDispatch,
  startTestShipment,
  testConfig,
  testOrder,
  zendeskRescheduleBody,
  gatewayFixture,
  type GatewayFixture,
} from './support.js';

/**
 * Property: starting from valid signed webhooks, thousands of mutated bodies, signatures, timestamps,
 * content types and sizes get only 4xx answers, leave nothing in the inbox and send nothing to Temporal,
 * and the gateway still accepts a valid webhook afterwards.
 */

const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-fuzz');
const LIMIT = 256 * 1024;

let client: Client;
let store: Store;
let gateway: Gateway;
let fixture: GatewayFixture | undefined;
let shipmentId: string;
const seen: number[] = [];

beforeAll(async () => {
  fixture = await gatewayFixture({
    name: 'fuzz',
    taskQueue,
    config,
    store: { synchronous: 'NORMAL' },
    gateway: { bodyLimit: LIMIT },
  });
  ({ client, store, gateway } = fixture);
  shipmentId = await startTestShipment(client, taskQueue, testOrder());
});

afterAll(async () => {
  await fixture?.close([shipmentId]);
});

type Mutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

/** Byte-level mutations of a body. */
function mutation(length: number): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(length - 1),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(length),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: fc.nat(length - 1),
      count: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(length - 1) }),
  );
}

function mutate(base: Buffer, m: Mutation): Buffer {
  switch (m.kind) {
    case 'flip': {
      const out = Buffer.from(base);
      out[m.at] = m.value;
      return out;
    }
    case 'insert':
      return Buffer.concat([base.subarray(0, m.at), Buffer.from(m.bytes), base.subarray(m.at)]);
    case 'delete':
      return Buffer.concat([base.subarray(0, m.at), base.subarray(m.at + m.count)]);
    case 'truncate':
      return base.subarray(0, m.at);
  }
}

/** Values of the wrong type for a field that must be a string or a number. */
const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.constant([]),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
  fc.double({ noDefaultInfinity: true, noNaN: true }).map((n) => n + 0.5),
);

/** Edits of a decoded payload that make it invalid for its dialect (then signed again, so only the schema can refuse it). */
function setPath(
  obj: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const copy = structuredClone(obj);
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonp',
  'text/json',
  'image/png',
];

async function send(url: string, body: Buffer | string, headers: Record<string, string>) {
  const res = await gateway.inject({ method: 'POST', url, payload: body, headers });
  seen.push(res.statusCode);
  return res;
}

function expect4xx(res: { statusCode: number; body: string }, codes: readonly string[]) {
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).toBeLessThan(500);
  const body = JSON.parse(res.body) as { code: string; message: string };
  expect(codes).toContain(body.code);
  expect(typeof body.message).toBe('string');
}

describe('gateway under malformed input', () => {
  it('when dispatch webhooks are mutated in every way then each gets a 4xx and nothing is accepted', async () => {
    const valid = signedDispatch(
      config,
      onfleetPayload({ shipmentId, trigger: 'taskArrival', time: 1_764_590_400_000 }),
    );
    const base = Buffer.from(valid.body);
    const payload = JSON.parse(valid.body) as Record<string, unknown>;
    const sign = (b: Buffer | string) =>
      signOnfleetWebhook(secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'), b);
    const brokenPayloads: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
      fc
        .constantFrom(
          ['time'],
          ['triggerName'],
          ['data', 'task'],
          ['data', 'task', 'id'],
          ['data', 'task', 'metadata'],
        )
        .map((p) => setPath(payload, p, undefined)),
      fc
        .tuple(
          fc.constantFrom(
            ['time'],
            ['triggerName'],
            ['taskId'],
            ['data'],
            ['data', 'task', 'id'],
            ['data', 'task', 'metadata'],
          ),
          wrongType,
        )
        .map(([p, v]) => setPath(payload, p, v)),
      fc.constantFrom(0, -1, 'one', 1.5).map((v) =>
        setPath(
          payload,
          ['data', 'task', 'metadata'],
          [
            { name: 'shipmentId', value: shipmentId },
            { name: 'attempt', value: v },
          ],
        ),
      ),
      fc
        .oneof(fc.string(), fc.integer(), fc.array(fc.integer(), { maxLength: 3 }))
        .map((v) => ({ not: 'onfleet', v })),
    );
    const requests = fc.oneof(
      mutation(base.length)
        .map((m) => mutate(base, m))
        .filter((b) => !b.equals(base))
        .map((body) => ({ body, headers: valid.headers, codes: ['SIGNATURE_INVALID'] })),
      fc
        .oneof(fc.string({ maxLength: 200 }), fc.stringMatching(/^[0-9a-f]{0,130}$/), fc.constant(''))
        .filter((sig) => sig.trim().toLowerCase() !== valid.headers['x-onfleet-signature'])
        .map((sig) => ({
          body: base,
          headers: { 'content-type': 'application/json', 'x-onfleet-signature': sig },
          codes: ['SIGNATURE_INVALID'],
        })),
      fc.constant({
        body: base,
        headers: { 'content-type': 'application/json' },
        codes: ['SIGNATURE_INVALID'],
      }),
      brokenPayloads.map((p) => {
        const body = JSON.stringify(p);
        return {
          body: Buffer.from(body),
          headers: { 'content-type': 'application/json', 'x-onfleet-signature': sign(body) },
          codes: ['EVENT_SCHEMA_INVALID'],
        };
      }),
      fc.nat(base.length - 2).map((at) => {
        const body = base.subarray(0, at + 1);
        return {
          body,
          headers: { 'content-type': 'application/json', 'x-onfleet-signature': sign(body) },
          codes: ['EVENT_SCHEMA_INVALID'],
        };
      }),
      fc.constantFrom(...CONTENT_TYPES).map((ct) => ({
        body: base,
        headers: { ...valid.headers, 'content-type': ct },
        codes: ['UNSUPPORTED_MEDIA_TYPE'],
      })),
      fc.integer({ min: LIMIT + 1, max: 2 * LIMIT }).map((size) => {
        const body = Buffer.alloc(size, 0x20);
        base.copy(body);
        return {
          body,
          headers: { 'content-type': 'application/json', 'x-onfleet-signature': sign(body) },
          codes: ['PAYLOAD_TOO_LARGE'],
        };
      }),
    );
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        expect4xx(await send('/webhooks/dispatch', r.body, r.headers), r.codes);
      }),
      { numRuns: 1500 },
    );
  });

  it('when Zendesk webhooks have mutated timestamps, signatures and bodies then each gets a 4xx', async () => {
    const timestamp = new Date().toISOString();
    const valid = signedCrm(
      config,
      zendeskRescheduleBody(
        shipmentId,
        { start: '2026-12-05T14:00:00Z', end: '2026-12-05T16:00:00Z' },
        'zd-fuzz-1',
      ),
      timestamp,
    );
    const base = Buffer.from(valid.body);
    const payload = JSON.parse(valid.body) as Record<string, unknown>;
    const signWith = (ts: string, body: Buffer | string) =>
      signZendeskWebhook(secret(config, 'SHIPSYNC_CRM_WEBHOOK_SECRET'), ts, body);
    const headersFor = (ts: string, sig: string) => ({
      'content-type': 'application/json',
      'x-zendesk-webhook-signature': sig,
      'x-zendesk-webhook-signature-timestamp': ts,
    });
    const requests = fc.oneof(
      // Signed correctly but outside the tolerance window, in the past or the future.
      fc.integer({ min: 5 * 60_000 + 1_000, max: 365 * 24 * 3600_000 }).chain((skew) =>
        fc.constantFrom(-1, 1).map((dir) => {
          const ts = new Date(Date.now() + dir * skew).toISOString();
          return { body: base, headers: headersFor(ts, signWith(ts, base)), codes: ['SIGNATURE_STALE'] };
        }),
      ),
      // Signed over a timestamp that is not a time at all.
      fc
        .string({ minLength: 1, maxLength: 40 })
        .filter((ts) => ts.trim() !== '' && Number.isNaN(Date.parse(ts)) && !/[\r\n]/.test(ts))
        .map((ts) => ({
          body: base,
          headers: headersFor(ts, signWith(ts, base)),
          codes: ['SIGNATURE_STALE', 'SIGNATURE_INVALID'],
        })),
      // A different timestamp header than the one signed.
      fc.integer({ min: 1, max: 240_000 }).map((shift) => ({
        body: base,
        headers: headersFor(
          new Date(Date.parse(timestamp) + shift).toISOString(),
          valid.headers['x-zendesk-webhook-signature'],
        ),
        codes: ['SIGNATURE_INVALID'],
      })),
      mutation(base.length)
        .map((m) => mutate(base, m))
        .filter((b) => !b.equals(base))
        .map((body) => ({ body, headers: valid.headers, codes: ['SIGNATURE_INVALID'] })),
      fc
        .base64String({ maxLength: 60 })
        .filter((s) => s !== valid.headers['x-zendesk-webhook-signature'])
        .map((sig) => ({ body: base, headers: headersFor(timestamp, sig), codes: ['SIGNATURE_INVALID'] })),
      fc
        .oneof(
          fc
            .constantFrom(
              ['type'],
              ['id'],
              ['detail'],
              ['detail', 'external_id'],
              ['event', 'requested_window'],
            )
            .map((p) => setPath(payload, p, undefined)),
          fc
            .tuple(
              fc.constantFrom(
                ['id'],
                ['time'],
                ['detail', 'external_id'],
                ['event', 'requested_window', 'start'],
              ),
              wrongType,
            )
            .map(([p, v]) => setPath(payload, p, v)),
          fc.constant(
            setPath(payload, ['event', 'requested_window'], {
              start: '2026-12-05T16:00:00Z',
              end: '2026-12-05T14:00:00Z',
            }),
          ),
        )
        .map((p) => {
          const body = JSON.stringify(p);
          const ts = new Date().toISOString();
          return {
            body: Buffer.from(body),
            headers: headersFor(ts, signWith(ts, body)),
            codes: ['EVENT_SCHEMA_INVALID'],
          };
        }),
      fc.constantFrom(...CONTENT_TYPES).map((ct) => ({
        body: base,
        headers: { ...valid.headers, 'content-type': ct },
        codes: ['UNSUPPORTED_MEDIA_TYPE'],
      })),
    );
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        expect4xx(await send('/webhooks/crm', r.body, r.headers), r.codes);
      }),
      { numRuns: 800 },
    );
  });

  it('when ERP pushes carry wrong tokens or broken deliveries then each gets a 4xx', async () => {
    const order = testOrder();
    const valid = erpPush(config, order);
    const base = Buffer.from(valid.body);
    const payload = JSON.parse(valid.body) as { d: Record<string, unknown> };
    const requests = fc.oneof(
      fc
        .oneof(
          fc.string({ maxLength: 80 }),
          fc.constantFrom(
            'Basic c2FuZGJveA==',
            'Bearer',
            'Bearer ',
            `Token ${config.SHIPSYNC_ERP_WEBHOOK_TOKEN}`,
          ),
        )
        .filter((auth) => !/^bearer\s+sandbox-erp-push-token\s*$/i.test(auth) && !/[\r\n]/.test(auth))
        .map((auth) => ({
          body: base,
          headers: { 'content-type': 'application/json', authorization: auth },
          codes: ['UNAUTHENTICATED'],
        })),
      fc
        .oneof(
          fc
            .constantFrom(
              'DeliveryDocument',
              'SoldToParty',
              'DeliveryDate',
              'to_DeliveryDocumentItem',
              'to_DeliveryDocumentPartner',
              'YY1_DispatchRegion_DLH',
            )
            .map((k) => ({ d: setPath(payload.d, [k], undefined) })),
          fc
            .tuple(
              fc.constantFrom(
                'DeliveryDocument',
                'DeliveryDate',
                'HeaderGrossWeight',
                'YY1_DelivWindowStart_DLH',
              ),
              wrongType,
            )
            .map(([k, v]) => ({ d: setPath(payload.d, [k], v) })),
          fc
            .constantFrom('/Date(abc)/', '2026-12-01', '')
            .map((v) => ({ d: setPath(payload.d, ['DeliveryDate'], v) })),
          fc
            .jsonValue({ maxDepth: 2 })
            .filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)),
        )
        .map((p) => ({
          body: Buffer.from(JSON.stringify(p)),
          headers: valid.headers,
          codes: ['EVENT_SCHEMA_INVALID'],
        })),
      mutation(base.length)
        .map((m) => mutate(base, m))
        .filter((b) => {
          try {
            JSON.parse(b.toString('utf8'));
            return false;
          } catch {
            return true;
          }
        })
        .map((body) => ({ body, headers: valid.headers, codes: ['EVENT_SCHEMA_INVALID'] })),
      fc.constantFrom(...CONTENT_TYPES).map((ct) => ({
        body: base,
        headers: { ...valid.headers, 'content-type': ct },
        codes: ['UNSUPPORTED_MEDIA_TYPE'],
      })),
    );
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        expect4xx(await send('/webhooks/erp/releases', r.body, r.headers), r.codes);
      }),
      { numRuns: 700 },
    );
  });

  it('when the API gets random bodies, ids and keys then each gets a 4xx before anything reaches a shipment', async () => {
    const requests = fc.record({
      id: fc.oneof(
        fc.constant(shipmentId),
        fc.string({ minLength: 1, maxLength: 30 }).map(encodeURIComponent),
      ),
      route: fc.constantFrom('reschedule', 'address', 'exceptions/resolve'),
      body: fc.jsonValue({ maxDepth: 3 }),
      key: fc.oneof(
        fc.constant(undefined),
        fc.string({ maxLength: 300 }).filter((k) => !/[\r\n]/.test(k)),
      ),
    });
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        const res = await gateway.inject({
          method: 'POST',
          url: `/v1/shipments/${r.id}/${r.route}`,
          payload: JSON.stringify(r.body),
          headers: {
            'content-type': 'application/json',
            ...asRole('admin'),
            ...(r.key !== undefined ? { 'idempotency-key': r.key } : {}),
          },
        });
        seen.push(res.statusCode);
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
      }),
      { numRuns: 500 },
    );
  });

  it('when the storm is over then the gateway still accepts a valid webhook and only that one reaches the shipment', async () => {
    expect(seen.length).toBeGreaterThan(3000);
    expect(seen.filter((s) => s >= 500)).toEqual([]);
    expect(await store.inbox.counts()).toEqual({ pending: 0, delivered: 0, dead: 0 });
    const ok = signedDispatch(
      config,
      onfleetPayload({ shipmentId, trigger: 'taskArrival', time: Date.now() }),
    );
    const res = await gateway.inject({
      method: 'POST',
      url: '/webhooks/dispatch',
      payload: ok.body,
      headers: ok.headers,
    });
    expect(res.statusCode).toBe(200);
    await gateway.forwarder.drain();
    expect(await receivedIds(client, shipmentId)).toEqual([res.json<{ eventId: string }>().eventId]);
    expect((await store.inbox.counts()).delivered).toBe(1);
  });
});
