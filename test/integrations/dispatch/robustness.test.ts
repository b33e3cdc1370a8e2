import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDispatchSandbox, type DispatchSandbox } from '../../../sandbox/dispatch/index.js';
import { API_KEY } from './support.js';

let sandbox: DispatchSandbox;
let taskId: string;
let teamId: string;
let workerId: string;
const AUTH = `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}`;

/** Sends exactly these bytes (no client-side encoding or validation), answers status and body text. */
function send(
  method: string,
  path: string,
  body?: string,
  contentType?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: AUTH };
    if (contentType) headers['content-type'] = contentType;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const req = request({ host: '127.0.0.1', port: sandbox.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** An Onfleet error body: `{ code, message: { error, message, request } }`. */
function isOnfleetError(text: string): boolean {
  try {
    const body = JSON.parse(text) as {
      code?: unknown;
      message?: { error?: unknown; message?: unknown; request?: unknown };
    };
    return (
      typeof body.code === 'string' &&
      typeof body.message?.error === 'number' &&
      typeof body.message.message === 'string' &&
      typeof body.message.request === 'string'
    );
  } catch {
    return false;
  }
}

function expectVendor4xxOrSuccess(res: { status: number; text: string }, label: string) {
  expect(res.status, `${label} -> ${res.status} ${res.text.slice(0, 200)}`).toBeLessThan(500);
  if (res.status >= 400) expect(isOnfleetError(res.text), `${label} -> ${res.text.slice(0, 200)}`).toBe(true);
}

const contentType = fc.constantFrom(
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  undefined,
);
const junkJson = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '',
    '{',
    '{"destination":',
    '[1,2',
    'null',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{}}}',
    '\u0000',
  ),
);
const anyValue = fc.oneof(fc.jsonValue(), fc.constantFrom(-1, 1e308, 'x', null, [], {}, true));
/** Bodies shaped like the real ones, with wrong types and values in the known fields. */
const taskLike = fc
  .record(
    {
      destination: fc.oneof(
        anyValue,
        fc.record(
          { address: anyValue, location: fc.oneof(anyValue, fc.tuple(fc.double(), fc.double())) },
          { requiredKeys: [] },
        ),
      ),
      recipients: fc.oneof(
        anyValue,
        fc.array(fc.record({ name: anyValue, phone: anyValue }, { requiredKeys: [] }), { maxLength: 3 }),
      ),
      completeAfter: anyValue,
      completeBefore: anyValue,
      quantity: anyValue,
      serviceTime: anyValue,
      metadata: fc.oneof(
        anyValue,
        fc.array(fc.record({ name: anyValue, type: anyValue, value: anyValue }, { requiredKeys: [] }), {
          maxLength: 3,
        }),
      ),
      container: anyValue,
      requirements: anyValue,
      maxTasksPerRoute: anyValue,
      taskTimeWindow: fc.oneof(anyValue, fc.tuple(fc.integer(), fc.integer())),
      url: fc.constantFrom('http://127.0.0.1:1/x', 'not a url', 'ftp://example.invalid/x', ''),
      trigger: anyValue,
      enabled: anyValue,
      failureRate: anyValue,
    },
    { requiredKeys: [] },
  )
  .map((v) => JSON.stringify(v));
const body = fc.oneof(junkJson, taskLike);
const segment = fc.oneof(
  fc.string({ maxLength: 80 }).map(encodeURIComponent),
  fc.constantFrom('%', '%zz', '..', '%00', 'a'.repeat(300), '%E0%A4%A', '~*~', 'all'),
);
const query = fc.oneof(
  fc
    .dictionary(
      fc.constantFrom(
        'from',
        'to',
        'lastId',
        'state',
        'worker',
        'teams',
        'shipmentId',
        'team',
        'date',
        'workerId',
        'limit',
        'kind',
      ),
      fc.string({ maxLength: 30 }),
    )
    .map((d) => new URLSearchParams(d).toString()),
  fc.constantFrom('from=1&from=2', 'from=%zz', 'state=9', 'date=2026-13-45', 'limit=-1', '&&&', 'from=1e400'),
);

beforeAll(async () => {
  sandbox = await startDispatchSandbox({
    seed: 31,
    rateLimitPerSecond: 1_000_000,
    planning: { timeLimitMs: 20, maxIterations: 20 },
  });
  const created = await send(
    'POST',
    '/api/v2/tasks',
    JSON.stringify({
      destination: {
        address: { number: '1', street: 'N State St', city: 'Chicago' },
        location: [-87.6278, 41.8837],
      },
      recipients: [{ name: 'Pat', phone: '+13125550100' }],
      metadata: [{ name: 'shipmentId', type: 'string', value: 'shipment-FUZZ' }],
    }),
    'application/json',
  );
  taskId = (JSON.parse(created.text) as { id: string }).id;
  const teams = JSON.parse((await send('GET', '/api/v2/teams')).text) as { id: string; workers: string[] }[];
  teamId = teams[0]!.id;
  workerId = teams[0]!.workers[0]!;
});

afterAll(async () => {
  await sandbox.close();
});

describe('dispatch sandbox under malformed requests', () => {
  it('when any endpoint gets malformed bodies, ids and queries then it answers an Onfleet-style 4xx (or succeeds) and never a 5xx', async () => {
    const templates: [string, (id: string) => string, boolean][] = [
      ['GET', () => '/api/v2/tasks/all', false],
      ['GET', (id) => `/api/v2/tasks/${id}`, false],
      ['GET', (id) => `/api/v2/tasks/shortId/${id}`, false],
      ['POST', () => '/api/v2/tasks', true],
      ['POST', () => '/api/v2/tasks/metadata', true],
      ['PUT', (id) => `/api/v2/tasks/${id}`, true],
      ['PUT', () => `/api/v2/tasks/${taskId}`, true],
      ['DELETE', (id) => `/api/v2/tasks/${id}`, true],
      ['POST', (id) => `/api/v2/tasks/${id}/clone`, true],
      ['POST', () => `/api/v2/tasks/${taskId}/clone`, true],
      ['GET', () => '/api/v2/workers', false],
      ['GET', (id) => `/api/v2/workers/${id}`, false],
      ['GET', () => `/api/v2/workers/${workerId}/schedule`, false],
      ['GET', (id) => `/api/v2/workers/${id}/schedule`, false],
      ['GET', (id) => `/api/v2/teams/${id}`, false],
      ['POST', (id) => `/api/v2/teams/${id}/dispatch`, true],
      ['POST', () => `/api/v2/teams/${teamId}/dispatch`, true],
      ['GET', () => '/api/v2/webhooks', false],
      ['POST', () => '/api/v2/webhooks', true],
      ['DELETE', (id) => `/api/v2/webhooks/${id}`, false],
      ['PATCH', (id) => `/api/v2/tasks/${id}`, true],
      ['GET', (id) => `/api/v2/${id}`, false],
      ['GET', () => '/__sandbox/tasks', false],
      ['GET', () => '/__sandbox/routes', false],
      ['GET', () => '/__sandbox/positions', false],
      ['GET', () => '/__sandbox/effects', false],
      ['POST', () => '/__sandbox/simulator', true],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...templates),
        segment,
        fc.option(query, { nil: undefined }),
        body,
        contentType,
        async ([method, path, withBody], id, q, payload, type) => {
          const url = `${path(id)}${q ? `?${q}` : ''}`;
          const res = await send(method, url, withBody ? payload : undefined, withBody ? type : undefined);
          expectVendor4xxOrSuccess(res, `${method} ${url}`);
        },
      ),
      { numRuns: 400 },
    );
    sandbox.simulator.update({ enabled: false });
  }, 120_000);

  it('when bodies are oversized or credentials malformed then the answers are Onfleet-style 4xx', async () => {
    const huge = await send(
      'POST',
      '/api/v2/tasks',
      JSON.stringify({ notes: 'x'.repeat(2 * 1024 * 1024) }),
      'application/json',
    );
    expect(huge.status).toBe(413);
    expect(isOnfleetError(huge.text)).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), async (header) => {
        const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: sandbox.port,
              method: 'GET',
              path: '/api/v2/teams',
              headers: { authorization: `Basic ${header.replace(/[^\x20-\x7e]/g, '')}` },
            },
            (r) => {
              const chunks: Buffer[] = [];
              r.on('data', (c: Buffer) => chunks.push(c));
              r.on('end', () =>
                resolve({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
              );
            },
          );
          req.on('error', reject);
          req.end();
        });
        expect(res.status).toBe(401);
        expect(isOnfleetError(res.text)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('when the fuzzing is over then the sandbox still serves requests', async () => {
    const res = await send('GET', '/api/v2/auth/test');
    expect(res.status).toBe(200);
    expect((await send('GET', `/api/v2/tasks/${taskId}`)).status).toBeLessThan(500);
  });
});
