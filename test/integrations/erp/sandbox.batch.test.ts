import axios from 'axios';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Order } from '../../../src/domain/model.js';
import {
  BILLING_SERVICE_PATH,
  DELIVERY_SERVICE_PATH,
  MILESTONE_SERVICE_PATH,
  startErpSandbox,
  type ErpSandbox,
} from '../../../sandbox/erp/server.js';
import { csrfSession, effectsOf } from './support.js';

const DATE = '2026-12-01';
const CRLF = '\r\n';

/** One request of a hand-written batch: request line, headers and an optional JSON body. */
interface Op {
  method: string;
  url: string;
  headers?: Record<string, string>;
  json?: unknown;
  contentId?: string;
}

/** A `$batch` body written by hand, as a client library would put it on the wire (CRLF throughout). */
function batchBody(boundary: string, items: (Op | Op[])[]): string {
  const http = (op: Op) => {
    const body = op.json === undefined ? '' : JSON.stringify(op.json);
    return [
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      ...(op.contentId ? [`Content-ID: ${op.contentId}`] : []),
      '',
      `${op.method} ${op.url} HTTP/1.1`,
      ...(op.json === undefined ? [] : ['Content-Type: application/json']),
      ...Object.entries(op.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      '',
      body,
    ].join(CRLF);
  };
  const lines: string[] = [];
  items.forEach((item, i) => {
    lines.push(`--${boundary}`);
    if (!Array.isArray(item)) {
      lines.push(http(item));
      return;
    }
    const cs = `changeset_${i}`;
    lines.push(`Content-Type: multipart/mixed; boundary=${cs}`, '');
    for (const op of item) lines.push(`--${cs}`, http(op));
    lines.push(`--${cs}--`);
  });
  lines.push(`--${boundary}--`, '');
  return lines.join(CRLF);
}

/** One response part of the answer, read with plain string handling (independent of both codecs). */
interface Part {
  mime: string;
  statusLine: string;
  headers: Record<string, string>;
  body: string;
}

function splitOn(body: string, boundary: string): string[] {
  const chunks = body.split(`--${boundary}`);
  expect(chunks.at(-1)?.startsWith('--')).toBe(true);
  return chunks.slice(1, -1).map((c) => c.replace(/^\r\n/, '').replace(/\r\n$/, ''));
}

function parsePart(text: string): Part {
  const blank = text.indexOf(CRLF + CRLF);
  const mime = blank < 0 ? text : text.slice(0, blank);
  const http = blank < 0 ? '' : text.slice(blank + 4);
  const cut = http.indexOf(CRLF + CRLF);
  const head = (cut < 0 ? http : http.slice(0, cut)).split(CRLF);
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { mime, statusLine: head[0] ?? '', headers, body: cut < 0 ? '' : http.slice(cut + 4) };
}

/** The answer's parts: a retrieve's or a failed change set's response, or the responses of a change set. */
function parseAnswer(contentType: string, body: string): (Part | Part[])[] {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)?.[1] ?? '';
  return splitOn(body, boundary).map((part) => {
    const inner = /^Content-Type: multipart\/mixed; boundary=([^\r\n;]+)/i.exec(part);
    if (!inner) return parsePart(part);
    const content = part.slice(part.indexOf(CRLF + CRLF) + 4);
    return splitOn(content, inner[1] as string).map(parsePart);
  });
}

describe('ERP sandbox $batch (OData V2 multipart/mixed)', () => {
  let sandbox: ErpSandbox;
  let session: { token: string; cookie: string };
  const one = (): Order => sandbox.seed(1, { date: DATE, regions: ['DAL'] })[0] as Order;

  const post = async (service: string, body: string, opts: { csrf?: boolean; contentType?: string } = {}) =>
    axios.post<string>(`${sandbox.url}${service}$batch`, body, {
      headers: {
        'content-type': opts.contentType ?? 'multipart/mixed; boundary=batch_1',
        ...(opts.csrf === false ? {} : { 'x-csrf-token': session.token, cookie: session.cookie }),
      },
      responseType: 'text',
      transformResponse: (d: unknown) => d,
      validateStatus: () => true,
    });

  const milestonesOf = async (id: string) =>
    (
      await axios.get<{ milestones: { milestone: string; uuid: string }[] }>(
        `${sandbox.url}/__sandbox/deliveries/${id}/milestones`,
      )
    ).data.milestones;

  const milestone = (deliveryId: string, code: string, headers: Record<string, string> = {}): Op => ({
    method: 'POST',
    url: 'YY1_ShipmentMilestone',
    json: {
      DeliveryDocument: deliveryId,
      MilestoneCode: code,
      AttemptNumber: 1,
      OccurredAt: '/Date(1796130300000+0000)/',
    },
    headers,
  });

  beforeAll(async () => {
    sandbox = await startErpSandbox({ seed: 21 });
    session = await csrfSession(sandbox.url);
  });
  afterAll(async () => sandbox.close());

  it('when a batch holds a GET and a change set then the answer is 202 multipart/mixed with CRLF parts, status lines and Content-IDs', async () => {
    const order = one();
    const body = batchBody('batch_1', [
      {
        method: 'GET',
        url: `A_OutbDeliveryHeader('${order.deliveryId}')?$select=DeliveryDocument`,
        headers: { Accept: 'application/json' },
      },
      [
        {
          ...milestone(order.deliveryId, 'DISPATCHED'),
          url: `${MILESTONE_SERVICE_PATH}YY1_ShipmentMilestone`,
          contentId: 'm1',
        },
      ],
    ]);
    const wrong = await post(DELIVERY_SERVICE_PATH, body);
    expect(wrong.status).toBe(202);
    const [, crossService] = parseAnswer(String(wrong.headers['content-type']), wrong.data);
    expect((crossService as Part).statusLine).toBe('HTTP/1.1 400 Bad Request');

    const res = await post(
      MILESTONE_SERVICE_PATH,
      body.replace(
        `A_OutbDeliveryHeader('${order.deliveryId}')?$select=DeliveryDocument`,
        'YY1_ShipmentMilestone/$count',
      ),
    );
    expect(res.status).toBe(202);
    expect(res.headers['content-type']).toMatch(/^multipart\/mixed; boundary=batch_[0-9A-F]{32}$/);
    expect(res.data.replace(/\r\n/g, '')).not.toContain('\n');
    const [get, changeset] = parseAnswer(String(res.headers['content-type']), res.data);
    expect((get as Part).mime).toContain('Content-Type: application/http');
    expect((get as Part).mime).toContain('Content-Transfer-Encoding: binary');
    expect((get as Part).statusLine).toBe('HTTP/1.1 200 OK');
    expect((get as Part).body).toMatch(/^\d+$/);
    const [created] = changeset as Part[];
    expect(created?.statusLine).toBe('HTTP/1.1 201 Created');
    expect(created?.mime).toContain('Content-ID: m1');
    expect(created?.headers.location).toMatch(/YY1_ShipmentMilestone\(guid'[0-9a-f-]{36}'\)$/);
    expect(JSON.parse(created?.body ?? '{}')).toMatchObject({
      d: { DeliveryDocument: order.deliveryId, MilestoneCode: 'DISPATCHED' },
    });
    expect((await milestonesOf(order.deliveryId)).map((m) => m.milestone)).toEqual(['DISPATCHED']);
  });

  it('when a GET part reads a delivery then it carries the ETag, and a missing one answers its own 404', async () => {
    const order = one();
    const res = await post(
      DELIVERY_SERVICE_PATH,
      batchBody('batch_1', [
        { method: 'GET', url: `A_OutbDeliveryHeader('${order.deliveryId}')?$select=DeliveryDocument` },
        { method: 'GET', url: "A_OutbDeliveryHeader('79999999')" },
      ]),
    );
    const [found, missing] = parseAnswer(String(res.headers['content-type']), res.data) as Part[];
    expect(found?.headers.etag).toMatch(/^W\/"'\d{14}\.\d{7}'"$/);
    expect(JSON.parse(found?.body ?? '{}').d.DeliveryDocument).toBe(order.deliveryId);
    expect(missing?.statusLine).toBe('HTTP/1.1 404 Not Found');
    expect(JSON.parse(missing?.body ?? '{}')).toMatchObject({ error: { message: { lang: 'en' } } });
  });

  it('when the second change of a change set fails then the first is rolled back while the next change set commits', async () => {
    const [a, b] = [one(), one()];
    await axios.post(`${sandbox.url}/__sandbox/business-rules`, { rejectMilestoneCodes: ['RETURNED'] });
    try {
      const res = await post(
        MILESTONE_SERVICE_PATH,
        batchBody('batch_1', [
          [
            milestone(a.deliveryId, 'DISPATCHED', {
              'Repeatability-Request-ID': 'a1c2e3f4-0000-4000-8000-000000000001',
            }),
            { ...milestone(a.deliveryId, 'RETURNED'), contentId: 'second' },
          ],
          [milestone(b.deliveryId, 'DISPATCHED')],
        ]),
      );
      const [failed, committed] = parseAnswer(String(res.headers['content-type']), res.data);
      expect((failed as Part).statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect((failed as Part).mime).toContain('Content-ID: second');
      expect(JSON.parse((failed as Part).body).error.code).toBe('YY1_SHIPMENTMILESTONE/001');
      expect((committed as Part[]).map((p) => p.statusLine)).toEqual(['HTTP/1.1 201 Created']);
      expect(await milestonesOf(a.deliveryId)).toEqual([]);
      expect(await effectsOf(sandbox.url, 'milestone', a.deliveryId)).toEqual([]);
      expect((await milestonesOf(b.deliveryId)).map((m) => m.milestone)).toEqual(['DISPATCHED']);
    } finally {
      await axios.post(`${sandbox.url}/__sandbox/business-rules`, { rejectMilestoneCodes: [] });
    }
    // The rolled-back change left no stored answer: the same request id now executes.
    const again = await post(
      MILESTONE_SERVICE_PATH,
      batchBody('batch_1', [
        [
          milestone(a.deliveryId, 'DISPATCHED', {
            'Repeatability-Request-ID': 'a1c2e3f4-0000-4000-8000-000000000001',
          }),
        ],
      ]),
    );
    const [answer] = parseAnswer(String(again.headers['content-type']), again.data) as Part[][];
    expect(answer?.[0]?.statusLine).toBe('HTTP/1.1 201 Created');
    expect((await milestonesOf(a.deliveryId)).map((m) => m.milestone)).toEqual(['DISPATCHED']);
  });

  it('when a change set moves the commit date and then posts goods issue with a stale ETag then both are undone', async () => {
    const order = one();
    const url = `${sandbox.url}${DELIVERY_SERVICE_PATH}A_OutbDeliveryHeader('${order.deliveryId}')`;
    const before = await axios.get<{ d: Record<string, unknown> }>(url);
    const etag = String(before.headers.etag);
    const res = await post(
      DELIVERY_SERVICE_PATH,
      batchBody('batch_1', [
        [
          {
            method: 'MERGE',
            url: `A_OutbDeliveryHeader('${order.deliveryId}')`,
            json: { DeliveryTime: 'PT17H00M00S' },
            headers: { 'If-Match': etag },
          },
          {
            method: 'POST',
            url: `PostGoodsIssue?DeliveryDocument='${order.deliveryId}'`,
            headers: { 'If-Match': etag },
          },
        ],
      ]),
    );
    const [failed] = parseAnswer(String(res.headers['content-type']), res.data) as Part[];
    expect(failed?.statusLine).toBe('HTTP/1.1 412 Precondition Failed');
    const after = await axios.get<{ d: Record<string, unknown> }>(url);
    expect(after.headers.etag).toBe(etag);
    expect([after.data.d.DeliveryTime, after.data.d.OverallGoodsMovementStatus]).toEqual([
      before.data.d.DeliveryTime,
      'A',
    ]);
    expect(await effectsOf(sandbox.url, 'delivery_update', order.deliveryId)).toEqual([]);
  });

  it('when a change is replayed with the same Repeatability-Request-ID then it answers as the first time and adds no record', async () => {
    const order = one();
    const body = batchBody('batch_1', [
      [
        milestone(order.deliveryId, 'DELIVERED', {
          'Repeatability-Request-ID': 'b1c2e3f4-0000-4000-8000-000000000002',
          'Repeatability-First-Sent': new Date().toUTCString(),
        }),
      ],
    ]);
    const answers: Part[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await post(MILESTONE_SERVICE_PATH, body);
      answers.push(...((parseAnswer(String(res.headers['content-type']), res.data)[0] as Part[]) ?? []));
    }
    expect(answers.map((p) => [p.statusLine, p.headers['repeatability-result']])).toEqual([
      ['HTTP/1.1 201 Created', 'accepted'],
      ['HTTP/1.1 201 Created', 'accepted'],
    ]);
    expect(JSON.parse(answers[1]?.body ?? '').d.SAP_UUID).toBe(JSON.parse(answers[0]?.body ?? '').d.SAP_UUID);
    expect(await milestonesOf(order.deliveryId)).toHaveLength(1);
    expect((await effectsOf(sandbox.url, 'milestone', order.deliveryId)).map((e) => e.count)).toEqual([1]);
  });

  it('when a change names an earlier change by Content-ID then it addresses the created entity, and an unknown one fails', async () => {
    const order = one();
    const res = await post(
      MILESTONE_SERVICE_PATH,
      batchBody('batch_1', [
        [
          { ...milestone(order.deliveryId, 'DISPATCHED'), contentId: '1' },
          { method: 'MERGE', url: '$1', json: { Note: 'x' } },
        ],
        [{ method: 'MERGE', url: '$7', json: { Note: 'x' } }],
      ]),
    );
    const [viaRef, unknown] = parseAnswer(String(res.headers['content-type']), res.data) as Part[];
    expect(viaRef?.statusLine).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(JSON.parse(viaRef?.body ?? '').error.message.value).toContain('YY1_ShipmentMilestone');
    expect(unknown?.statusLine).toBe('HTTP/1.1 404 Not Found');
    expect(await milestonesOf(order.deliveryId)).toEqual([]);
  });

  it('when the batch comes without the CSRF token then it is refused with 403 and nothing in it runs', async () => {
    const order = one();
    const res = await post(
      MILESTONE_SERVICE_PATH,
      batchBody('batch_1', [[milestone(order.deliveryId, 'DISPATCHED')]]),
      {
        csrf: false,
      },
    );
    expect(res.status).toBe(403);
    expect(res.headers['x-csrf-token']).toBe('Required');
    expect(await milestonesOf(order.deliveryId)).toEqual([]);
  });

  it('when the batch body is malformed then the whole batch is a 400 with an OData error', async () => {
    const order = one();
    const ok = batchBody('batch_1', [[milestone(order.deliveryId, 'DISPATCHED')]]);
    const cases: [string, string, string?][] = [
      ['no boundary', ok, 'multipart/mixed'],
      ['not multipart', ok, 'application/json'],
      ['no close delimiter', ok.replace('--batch_1--', ''), undefined],
      [
        'change outside a change set',
        batchBody('batch_1', [milestone(order.deliveryId, 'DISPATCHED')]),
        undefined,
      ],
      [
        'GET inside a change set',
        batchBody('batch_1', [[{ method: 'GET', url: 'YY1_ShipmentMilestone' }]]),
        undefined,
      ],
      [
        'no request line',
        ok.replace(/POST YY1_ShipmentMilestone HTTP\/1\.1/, 'POST YY1_ShipmentMilestone'),
        undefined,
      ],
      ['no transfer encoding', ok.replace('Content-Transfer-Encoding: binary\r\n', ''), undefined],
      ['empty', '', undefined],
    ];
    for (const [name, body, contentType] of cases) {
      const res = await post(MILESTONE_SERVICE_PATH, body, contentType ? { contentType } : {});
      expect([name, res.status]).toEqual([name, 400]);
      expect(JSON.parse(res.data)).toMatchObject({
        error: { code: expect.any(String), message: { lang: 'en' } },
      });
    }
    expect(await milestonesOf(order.deliveryId)).toEqual([]);
  });

  it('when a batch carries many changes then it counts as one request, and a 429 storm refuses it whole', async () => {
    const orders = sandbox.seed(5, { date: DATE });
    const before = sandbox.requests();
    const body = batchBody(
      'batch_1',
      orders.map((o) => [milestone(o.deliveryId, 'DISPATCHED')]),
    );
    const res = await post(MILESTONE_SERVICE_PATH, body);
    expect(res.status).toBe(202);
    const after = sandbox.requests();
    expect([
      after.total - before.total,
      after.batches - before.batches,
      after.batchOperations - before.batchOperations,
    ]).toEqual([1, 1, 5]);
    sandbox.faults.update({ rateLimitStormUntilMs: Date.now() + 60_000 });
    try {
      const refused = await post(BILLING_SERVICE_PATH, body);
      expect([refused.status, refused.headers['retry-after'] !== undefined]).toEqual([429, true]);
    } finally {
      sandbox.faults.update({ rateLimitStormUntilMs: 0 });
    }
  });
});

describe('ERP sandbox $batch with a SQLite file', () => {
  it('when a change set is rolled back then the file holds none of it after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'erp-batch-'));
    const dbFile = join(dir, 'erp.db');
    try {
      const first = await startErpSandbox({ seed: 4, dbFile });
      const [order] = first.seed(1, { date: DATE });
      const id = (order as Order).deliveryId;
      const session = await csrfSession(first.url);
      await axios.post(`${first.url}/__sandbox/business-rules`, { rejectMilestoneCodes: ['DELIVERED'] });
      const body = batchBody('b', [
        [
          {
            method: 'POST',
            url: 'YY1_ShipmentMilestone',
            json: {
              DeliveryDocument: id,
              MilestoneCode: 'DISPATCHED',
              AttemptNumber: 1,
              OccurredAt: '/Date(1796130300000+0000)/',
            },
          },
          {
            method: 'POST',
            url: 'YY1_ShipmentMilestone',
            json: {
              DeliveryDocument: id,
              MilestoneCode: 'DELIVERED',
              AttemptNumber: 1,
              OccurredAt: '/Date(1796130300000+0000)/',
            },
          },
        ],
      ]);
      const res = await axios.post<string>(`${first.url}${MILESTONE_SERVICE_PATH}$batch`, body, {
        headers: {
          'content-type': 'multipart/mixed; boundary=b',
          'x-csrf-token': session.token,
          cookie: session.cookie,
        },
        responseType: 'text',
      });
      expect(res.data).toContain('HTTP/1.1 400 Bad Request');
      await first.close();
      const second = await startErpSandbox({ seed: 4, dbFile });
      try {
        const listed = await axios.get<{ milestones: unknown[] }>(
          `${second.url}/__sandbox/deliveries/${id}/milestones`,
        );
        expect(listed.data.milestones).toEqual([]);
        expect(await effectsOf(second.url, 'milestone', id)).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
