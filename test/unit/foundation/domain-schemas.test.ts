import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { EventEnvelope } from '../../../src/domain/events.js';
import { renderJsonSchemas } from '../../../src/domain/json-schemas.js';
import * as m from '../../../src/domain/model.js';
import { sampleOrder } from '../../support/fixtures.js';

const now = '2026-12-01T15:00:00Z';
const pod = {
  deliveredAt: now,
  location: { lat: 41.88, lng: -87.63 },
  signatureId: 'sig-1',
  photoIds: ['p1'],
};
const charge = { code: 'BASE', quantity: 1, unitPrice: 85, amount: 85 };
const job = {
  shipmentId: 'shipment-80000001',
  deliveryId: '80000001',
  attempt: 1,
  region: 'CHI',
  location: { lat: 41.88, lng: -87.63 },
  address: sampleOrder().address,
  recipient: sampleOrder().recipient,
  window: { start: now, end: '2026-12-01T18:00:00Z' },
  quantity: 2,
  weightKg: 420,
  hazmat: false,
  serviceTimeSeconds: 600,
  instructions: '',
  requirements: [],
};
const route = {
  routeId: 'r1',
  region: 'CHI',
  date: '2026-12-01',
  driverId: 'd1',
  vehicleId: 'v1',
  stops: [{ taskId: 't1', sequence: 0, eta: now, location: { lat: 41.88, lng: -87.63 } }],
};
const kase = { shipmentId: 's', kind: 'damage', status: 'open', priority: 'high', subject: 'Damaged pallet' };
const billing = { shipmentId: 's', deliveryId: 'd', customerId: 'c', charges: [charge], total: 85 };
const event = {
  specversion: '1.0',
  id: 'evt-1',
  source: 'dispatch',
  subject: 'shipment-80000001',
  type: 'delivery.failed.v1',
  time: now,
  correlationid: 'shipment-80000001',
  data: { taskId: 't1', attempt: 1, reason: 'refused', failedAt: now },
};

type Case = [string, unknown, string];
/** For each schema: a valid value, then bad values with the path the error must name. */
const table: { name: string; schema: z.ZodType; valid: unknown; bad: Case[] }[] = [
  {
    name: 'Order',
    schema: m.Order,
    valid: sampleOrder(),
    bad: [
      [
        'ZIP with letters',
        { ...sampleOrder(), address: { ...sampleOrder().address, postalCode: '6O606' } },
        'address.postalCode',
      ],
      [
        'lower-case state',
        { ...sampleOrder(), address: { ...sampleOrder().address, state: 'il' } },
        'address.state',
      ],
      [
        'window ends first',
        { ...sampleOrder(), requestedWindow: { start: now, end: '2026-12-01T10:00:00Z' } },
        'requestedWindow.end',
      ],
      ['negative weight', { ...sampleOrder(), weightKg: -1 }, 'weightKg'],
      ['no items', { ...sampleOrder(), items: [] }, 'items'],
      ['service day 8', { ...sampleOrder(), serviceDays: [8] }, 'serviceDays.0'],
      [
        'time without offset',
        { ...sampleOrder(), requestedWindow: { start: '2026-12-01T14:00:00', end: now } },
        'requestedWindow.start',
      ],
    ],
  },
  {
    name: 'Job',
    schema: m.Job,
    valid: job,
    bad: [
      ['latitude 95', { ...job, location: { lat: 95, lng: 0 } }, 'location.lat'],
      ['attempt 0', { ...job, attempt: 0 }, 'attempt'],
      ['service time 0', { ...job, serviceTimeSeconds: 0 }, 'serviceTimeSeconds'],
    ],
  },
  {
    name: 'Route',
    schema: m.Route,
    valid: route,
    bad: [
      ['bad date', { ...route, date: '2026-13-01' }, 'date'],
      [
        'stop without eta',
        { ...route, stops: [{ taskId: 't', sequence: 0, location: { lat: 1, lng: 1 } }] },
        'stops.0.eta',
      ],
      ['empty driver', { ...route, driverId: '' }, 'driverId'],
    ],
  },
  {
    name: 'ProofOfDelivery',
    schema: m.ProofOfDelivery,
    valid: pod,
    bad: [
      ['no signature or photo', { deliveredAt: now, location: pod.location }, 'signatureId'],
      ['longitude 200', { ...pod, location: { lat: 0, lng: 200 } }, 'location.lng'],
      ['not a time', { ...pod, deliveredAt: 'yesterday' }, 'deliveredAt'],
    ],
  },
  {
    name: 'Case',
    schema: m.Case,
    valid: kase,
    bad: [
      ['unknown kind', { ...kase, kind: 'theft' }, 'kind'],
      ['unknown status', { ...kase, status: 'lost' }, 'status'],
      ['empty subject', { ...kase, subject: '' }, 'subject'],
    ],
  },
  {
    name: 'Charge',
    schema: m.Charge,
    valid: charge,
    bad: [
      ['amount off', { ...charge, amount: 86 }, 'amount'],
      ['unknown code', { ...charge, code: 'TIP' }, 'code'],
      ['negative quantity', { ...charge, quantity: -1 }, 'quantity'],
    ],
  },
  {
    name: 'BillingDocument',
    schema: m.BillingDocument,
    valid: billing,
    bad: [
      ['total off', { ...billing, total: 90 }, 'total'],
      ['no charges', { ...billing, charges: [], total: 0 }, 'charges'],
      ['code twice', { ...billing, charges: [charge, charge], total: 170 }, 'charges'],
      ['bad charge inside', { ...billing, charges: [{ ...charge, unitPrice: -2 }] }, 'charges.0.unitPrice'],
    ],
  },
  {
    name: 'Shipment',
    schema: m.Shipment,
    valid: {
      shipmentId: 's',
      order: sampleOrder(),
      phase: 'planned',
      attempts: 0,
      window: sampleOrder().requestedWindow,
      openCases: [],
      charges: [],
    },
    bad: [
      [
        'unknown phase',
        {
          shipmentId: 's',
          order: sampleOrder(),
          phase: 'lost',
          attempts: 0,
          window: sampleOrder().requestedWindow,
          openCases: [],
          charges: [],
        },
        'phase',
      ],
      [
        'bad nested order',
        {
          shipmentId: 's',
          order: { ...sampleOrder(), pallets: 1.5 },
          phase: 'planned',
          attempts: 0,
          window: sampleOrder().requestedWindow,
          openCases: [],
          charges: [],
        },
        'order.pallets',
      ],
      [
        'negative attempts',
        {
          shipmentId: 's',
          order: sampleOrder(),
          phase: 'planned',
          attempts: -1,
          window: sampleOrder().requestedWindow,
          openCases: [],
          charges: [],
        },
        'attempts',
      ],
    ],
  },
  {
    name: 'EventEnvelope',
    schema: EventEnvelope,
    valid: event,
    bad: [
      ['unknown failure reason', { ...event, data: { ...event.data, reason: 'bored' } }, 'data.reason'],
      ['wrong spec version', { ...event, specversion: '0.3' }, 'specversion'],
      ['unknown type', { ...event, type: 'delivery.teleported.v1' }, 'type'],
      ['missing correlation id', { ...event, correlationid: undefined }, 'correlationid'],
    ],
  },
];

describe.each(table)('$name schema', ({ schema, valid, bad }) => {
  it('accepts a valid value', () => {
    expect(schema.safeParse(valid).success).toBe(true);
  });
  it.each(bad)('when %s then rejects with path %s', (_label, value, path) => {
    const result = schema.safeParse(value);
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toContain(path);
  });
});

describe('published JSON Schemas', () => {
  it('when a zod schema changes without `npm run schemas` then this fails', () => {
    const dir = join(process.cwd(), 'docs', 'schemas');
    const expected = renderJsonSchemas();
    const onDisk = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(onDisk.sort()).toEqual(Object.keys(expected).sort());
    for (const [name, text] of Object.entries(expected)) {
      expect(readFileSync(join(dir, name), 'utf8'), `${name} is stale: run npm run schemas`).toBe(text);
    }
  });
});
