import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { AUTH, api } from './helpers.js';

interface Endpoint {
  method: string;
  path: (id: string) => string;
  body: 'ticket' | 'tickets' | 'faults' | 'none';
}

const endpoints: Endpoint[] = [
  { method: 'POST', path: () => '/api/v2/tickets.json', body: 'ticket' },
  { method: 'POST', path: () => '/api/v2/tickets', body: 'ticket' },
  { method: 'PUT', path: (id) => `/api/v2/tickets/${id}.json`, body: 'ticket' },
  { method: 'PUT', path: () => '/api/v2/tickets/1.json', body: 'ticket' },
  { method: 'GET', path: (id) => `/api/v2/tickets/${id}.json`, body: 'none' },
  { method: 'GET', path: () => '/api/v2/tickets.json', body: 'none' },
  { method: 'GET', path: (id) => `/api/v2/tickets/${id}/comments.json`, body: 'none' },
  { method: 'GET', path: () => '/api/v2/tickets/1/comments.json', body: 'none' },
  { method: 'GET', path: () => '/api/v2/search.json', body: 'none' },
  { method: 'POST', path: () => '/api/v2/tickets/create_many.json', body: 'tickets' },
  { method: 'PUT', path: () => '/api/v2/tickets/update_many.json', body: 'tickets' },
  { method: 'PUT', path: (id) => `/api/v2/tickets/update_many.json?ids=1,${id}`, body: 'ticket' },
  { method: 'GET', path: (id) => `/api/v2/tickets/show_many.json?ids=${id}`, body: 'none' },
  { method: 'GET', path: (id) => `/api/v2/job_statuses/${id}.json`, body: 'none' },
  { method: 'GET', path: (id) => `/api/v2/job_statuses/show_many.json?ids=${id}`, body: 'none' },
  { method: 'DELETE', path: (id) => `/api/v2/tickets/${id}.json`, body: 'ticket' },
  { method: 'PATCH', path: (id) => `/api/v2/${id}`, body: 'ticket' },
  { method: 'GET', path: () => '/__sandbox/notifications', body: 'none' },
  { method: 'GET', path: () => '/__sandbox/effects', body: 'none' },
  { method: 'GET', path: () => '/__sandbox/cases', body: 'none' },
  { method: 'GET', path: () => '/__sandbox/reschedules', body: 'none' },
  { method: 'GET', path: () => '/__sandbox/webhooks', body: 'none' },
  { method: 'GET', path: () => '/__sandbox/faults', body: 'none' },
  // Only bodies that can never be valid settings, so the run cannot switch faults on.
  { method: 'POST', path: () => '/__sandbox/faults', body: 'faults' },
];

const printable = fc.stringMatching(/^[\x21-\x7e]{0,120}$/);
const idSegment = fc.oneof(
  fc.constant('1'),
  fc.nat().map(String),
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom('1.json', '-1', '1e3', '0x10', '9'.repeat(40), '%00', '..'),
);
const queryValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('1', '2', '5', '100', 'zc1.eyJvIjoxfQ', 'zc1.eyJvIjoxMDAwMX0') },
  { weight: 1, arbitrary: fc.constantFrom('0', '-1', '101', '1.5', 'zc1.eyJvIjotMX0', 'zc1.!!!', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const searchQuery = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    'external_id:shipment-P1 type:ticket',
    'type:ticket status:new',
    '-tags:x "seed',
    'subject:"Seed',
  ),
);
/** A parameter that is usually absent, so a request rarely trips over several at once. */
const sometimes = <T>(arb: fc.Arbitrary<T>, present = 1, absent = 3) =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: present, arbitrary: arb });
// Mostly one value per parameter, so requests get past parameter parsing into the handlers' own checks.
const query = fc
  .tuple(
    fc.record({
      external_id: sometimes(fc.oneof(fc.constant('shipment-P1'), fc.string({ maxLength: 30 }))),
      'page[size]': sometimes(queryValue),
      'page[after]': sometimes(queryValue),
      page: sometimes(queryValue),
      per_page: sometimes(queryValue),
      query: sometimes(searchQuery, 3, 1),
      kind: sometimes(fc.string({ maxLength: 20 })),
      entityId: sometimes(fc.string({ maxLength: 20 })),
    }),
    sometimes(
      fc.tuple(fc.constantFrom('external_id', 'query', 'page[size]'), fc.string({ maxLength: 10 })),
      1,
      8,
    ),
  )
  .map(([params, repeated]) => {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) p.append(k, v);
    if (repeated) p.append(repeated[0], repeated[1]);
    const text = p.toString();
    return text ? `?${text}` : '';
  });

const jsonish = fc.jsonValue({ maxDepth: 3 });
const ticketFields = fc.record(
  {
    subject: jsonish,
    comment: fc.oneof(
      jsonish,
      fc.record({ body: jsonish, html_body: jsonish, public: jsonish }, { requiredKeys: [] }),
    ),
    description: jsonish,
    external_id: jsonish,
    custom_fields: fc.oneof(jsonish, fc.array(fc.record({ id: jsonish, value: jsonish }), { maxLength: 3 })),
    tags: fc.oneof(jsonish, fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 })),
    additional_tags: jsonish,
    priority: fc.oneof(jsonish, fc.constantFrom('low', 'normal', 'high', 'urgent')),
    status: fc.oneof(jsonish, fc.constantFrom('new', 'open', 'pending', 'hold', 'solved', 'closed')),
    requester: fc.oneof(jsonish, fc.record({ email: jsonish, name: jsonish }, { requiredKeys: [] })),
    metadata: fc.oneof(jsonish, fc.dictionary(fc.string({ maxLength: 10 }), jsonish, { maxKeys: 4 })),
  },
  { requiredKeys: [] },
);
// A valid ticket with at most one field replaced by arbitrary JSON, to reach the create and update logic.
const nearlyValidTicket = fc
  .tuple(
    fc.record(
      {
        subject: fc.string({ maxLength: 80 }),
        comment: fc.record({ body: fc.string({ minLength: 1, maxLength: 200 }), public: fc.boolean() }),
        external_id: fc.constantFrom('shipment-P1', 'shipment-P2'),
        tags: fc.array(fc.string({ maxLength: 15 }), { maxLength: 3 }),
        priority: fc.constantFrom('low', 'normal', 'high', 'urgent'),
        status: fc.constantFrom('new', 'open', 'pending', 'hold', 'solved', 'closed'),
        metadata: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
        custom_fields: fc.array(
          fc.record({
            id: fc.integer({ min: 1, max: 1e12 }),
            value: fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)),
          }),
          { maxLength: 3 },
        ),
      },
      { requiredKeys: ['comment'] },
    ),
    sometimes(
      fc.tuple(fc.constantFrom('subject', 'comment', 'tags', 'status', 'metadata', 'custom_fields'), jsonish),
      1,
      1,
    ),
  )
  .map(([ticket, mutation]) =>
    JSON.stringify({ ticket: mutation ? { ...ticket, [mutation[0]]: mutation[1] } : ticket }),
  );
const ticketBody = fc.oneof(
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: jsonish.map((v) => JSON.stringify(v)) },
  {
    weight: 8,
    arbitrary: fc
      .record({ ticket: fc.oneof({ weight: 4, arbitrary: ticketFields }, { weight: 1, arbitrary: jsonish }) })
      .map((v) => JSON.stringify(v)),
  },
  { weight: 6, arbitrary: nearlyValidTicket },
  { weight: 1, arbitrary: fc.constant(`{"ticket":{"comment":{"body":"${'x'.repeat(1_100_000)}"}}}`) },
);
// Bulk bodies: a tickets array of (nearly) valid or arbitrary tickets, some with ids; or the wrong shape.
const bulkTicket = fc.oneof(
  ticketFields,
  nearlyValidTicket.map((t) => (JSON.parse(t) as { ticket: Record<string, unknown> }).ticket),
  jsonish,
);
const ticketsBody = fc.oneof(
  { weight: 1, arbitrary: ticketBody },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.array(fc.tuple(bulkTicket, sometimes(fc.oneof(fc.nat({ max: 5 }), jsonish), 3, 1)), {
          maxLength: 5,
        }),
        sometimes(jsonish, 1, 6),
      )
      .map(([items, extra]) =>
        JSON.stringify({
          tickets: items.map(([t, id]) =>
            typeof t === 'object' && t && !Array.isArray(t) && id !== undefined ? { ...t, id } : t,
          ),
          ...(extra !== undefined ? { ticket: extra } : {}),
        }),
      ),
  },
);
const faultsBody = fc.oneof(
  fc.string({ maxLength: 100 }).filter((s) => !s.trim().startsWith('{')),
  fc.array(jsonish, { maxLength: 4 }).map((v) => JSON.stringify(v)),
);
const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      undefined,
    ),
  },
);
const authorization = fc.oneof(
  { weight: 6, arbitrary: fc.constant(AUTH) },
  { weight: 1, arbitrary: fc.constant('Bearer token') },
  { weight: 1, arbitrary: printable },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const request = fc
  .record({
    endpoint: fc.constantFrom(...endpoints),
    id: idSegment,
    query,
    authorization,
    idempotencyKey: fc.option(printable, { nil: undefined }),
    contentType,
    ticketBody: fc.option(ticketBody, { nil: undefined }),
    ticketsBody: fc.option(ticketsBody, { nil: undefined }),
    faultsBody,
  })
  .map((r) => ({
    method: r.endpoint.method,
    url: `${r.endpoint.path(r.id)}${r.query}`,
    headers: Object.fromEntries(
      Object.entries({
        authorization: r.authorization,
        'idempotency-key': r.idempotencyKey,
        'content-type': r.endpoint.body === 'none' ? undefined : r.contentType,
      }).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    body:
      r.endpoint.body === 'ticket'
        ? r.ticketBody
        : r.endpoint.body === 'tickets'
          ? r.ticketsBody
          : r.endpoint.body === 'faults'
            ? r.faultsBody
            : undefined,
  }));

describe('CRM sandbox under malformed requests', () => {
  let sandbox: CrmSandbox;

  beforeAll(async () => {
    sandbox = await startCrmSandbox({ seed: 3, rateLimitPerMinute: 1_000_000 });
    const seeded = await api(sandbox.url, 'POST', '/api/v2/tickets.json', {
      ticket: { subject: 'Seed', comment: { body: 'seed' }, external_id: 'shipment-P1' },
    });
    expect(seeded.status).toBe(201);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('when any endpoint gets malformed input then the answer is a Zendesk-style 4xx or a success, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const res = await fetch(`${sandbox.url}${req.url}`, {
          method: req.method,
          headers: req.headers,
          body: req.body,
        });
        const text = await res.text();
        expect(res.status, `${req.method} ${req.url} -> ${res.status} ${text.slice(0, 200)}`).toBeLessThan(
          500,
        );
        if (res.status >= 400) {
          const body = JSON.parse(text) as { error?: unknown };
          expect(typeof body.error, text.slice(0, 200)).toBe('string');
        }
      }),
      { numRuns: 600 },
    );
    // Bulk jobs run after their answer: each item ends created, updated or with its own error, no job fails.
    await sandbox.drain();
    expect(sandbox.jobs.list().length).toBeGreaterThan(0);
    expect(sandbox.jobs.list().filter((j) => j.status !== 'completed')).toEqual([]);
    const alive = await api(sandbox.url, 'GET', '/api/v2/tickets/1.json');
    expect(alive.status).toBe(200);
    expect(alive.body.ticket.id).toBe(1);
    const faults = await api(sandbox.url, 'GET', '/__sandbox/faults');
    expect(faults.body).toMatchObject({ errorRate: 0, outageUntilMs: 0, rateLimitStormUntilMs: 0 });
  });
});
