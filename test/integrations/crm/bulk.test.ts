import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShipsyncError, type ErrorCode } from '../../../src/domain/errors.js';
import { createCrmAdapter, type ZendeskCrmAdapter } from '../../../src/integrations/crm/adapter.js';
import { DEFAULT_FIELD_IDS, type OpenCaseInput } from '../../../src/integrations/crm/mappers.js';
import { startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { api, waitFor, type Json } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<ShipsyncError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ShipsyncError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<ShipsyncError> {
  const err = await failure(p);
  expect(err.code).toBe(code);
  return err;
}

function caseInput(shipmentId: string, over: Partial<OpenCaseInput> = {}): OpenCaseInput {
  return {
    shipmentId,
    deliveryId: shipmentId.replace('shipment-', ''),
    customerId: 'C1001',
    kind: 'failed_attempt',
    subject: `Failed delivery attempt for ${shipmentId}`,
    description: 'Recipient absent; reattempt planned.',
    priority: 'high',
    idempotencyKey: `${shipmentId}:case:failed_attempt:1`,
    firstTry: true,
    ...over,
  };
}

function notice(shipmentId: string, key: string, caseId?: string) {
  return {
    shipmentId,
    deliveryId: shipmentId.replace('shipment-', ''),
    customerId: 'C1001',
    ...(caseId ? { caseId } : {}),
    message: `Notice ${key} for ${shipmentId}.`,
    idempotencyKey: `${shipmentId}:notice:${key}`,
    firstTry: true,
  };
}

/** API requests the sandbox received so far, by route (`POST /api/v2/tickets/create_many`). */
async function requestCounts(
  sandbox: CrmSandbox,
): Promise<{ total: number; byRoute: Record<string, number> }> {
  return (await api(sandbox.url, 'GET', '/__sandbox/requests')).body;
}

/** How many more requests each route received between two counts. */
function delta(before: { byRoute: Record<string, number> }, after: { byRoute: Record<string, number> }) {
  const out: Record<string, number> = {};
  for (const [route, n] of Object.entries(after.byRoute)) {
    const d = n - (before.byRoute[route] ?? 0);
    if (d) out[route] = d;
  }
  return out;
}

const CREATE_MANY = 'POST /api/v2/tickets/create_many';
const UPDATE_MANY = 'PUT /api/v2/tickets/update_many';
const SHOW_MANY = 'GET /api/v2/tickets/show_many';
const JOB_STATUS = 'GET /api/v2/job_statuses/:id';
const JOB_SHOW_MANY = 'GET /api/v2/job_statuses/show_many';

describe('CRM adapter bulk calls against the Zendesk sandbox', () => {
  let sandbox: CrmSandbox;
  let crm: ZendeskCrmAdapter;

  beforeAll(async () => {
    sandbox = await startCrmSandbox({ seed: 12, rateLimitPerMinute: 100_000 });
    crm = createCrmAdapter({
      baseUrl: sandbox.url,
      bulk: { maxItems: 50, windowMs: 20 },
      jobWait: { firstPollMs: 20 },
    });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const effects = async (kind: string, prefix: string) =>
    ((await api(sandbox.url, 'GET', `/__sandbox/effects?kind=${kind}`)).body.effects as Json[]).filter((e) =>
      String(e.key).startsWith(prefix),
    );

  it('when several cases are opened at once then one create_many carries them and each call gets its own ticket', async () => {
    const ids = ['shipment-B100', 'shipment-B101', 'shipment-B102', 'shipment-B103', 'shipment-B104'];
    const before = await requestCounts(sandbox);
    const refs = await Promise.all(ids.map((id) => crm.openCase(caseInput(id))));
    const sent = delta(before, await requestCounts(sandbox));
    expect(sent[CREATE_MANY]).toBe(1);
    expect(sent['POST /api/v2/tickets']).toBeUndefined();
    expect(sent[JOB_STATUS]).toBeGreaterThanOrEqual(1);
    expect(new Set(refs.map((r) => r.caseId)).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) {
      const { body } = await api(sandbox.url, 'GET', `/api/v2/tickets/${refs[i]?.caseId}.json`);
      expect(body.ticket.external_id).toBe(id);
      expect(body.ticket.custom_fields).toContainEqual({
        id: DEFAULT_FIELD_IDS.idempotencyKey,
        value: `${id}:case:failed_attempt:1`,
      });
    }
    const created = await effects('ticket_created', 'shipment-B10');
    expect(created.map((e) => e.count)).toEqual([1, 1, 1, 1, 1]);
  });

  it('when one case of a batch is invalid then only its call fails, as a single call would, and its corrected retry opens it', async () => {
    const bad = caseInput('shipment-B201', { subject: '', description: '' });
    const settled = await Promise.allSettled([
      crm.openCase(caseInput('shipment-B200')),
      crm.openCase(bad),
      crm.openCase(caseInput('shipment-B202')),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (settled[1] as PromiseRejectedResult).reason as ShipsyncError;
    expect(err).toBeInstanceOf(ShipsyncError);
    expect([err.code, err.retryable, err.details.field, err.details.status]).toEqual([
      'CRM_REJECTED',
      false,
      'description',
      422,
    ]);
    // A single call with the same input gets the same classification.
    const single = createCrmAdapter({ baseUrl: sandbox.url, bulk: { maxItems: 1, windowMs: 0 } });
    const alone = await expectCode(single.openCase(bad), 'CRM_REJECTED');
    expect(alone.details.field).toBe('description');

    const fixed = { ...bad, subject: 'Failed delivery attempt', firstTry: false };
    const { caseId } = await crm.openCase(fixed);
    expect((await crm.openCase(fixed)).caseId).toBe(caseId);
    const listed = await api(sandbox.url, 'GET', '/api/v2/tickets.json?external_id=shipment-B201');
    expect((listed.body.tickets as Json[]).map((t) => String(t.id))).toEqual([caseId]);
  });

  it('when notices go out at once then one update_many carries them, and a notice to a closed case fails alone', async () => {
    const ids = ['shipment-B300', 'shipment-B301', 'shipment-B302', 'shipment-B303'];
    const cases = await Promise.all(ids.map((id) => crm.openCase(caseInput(id))));
    const closedCase = cases[3]?.caseId ?? '';
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${closedCase}.json`, { ticket: { status: 'closed' } });
    const before = await requestCounts(sandbox);
    const settled = await Promise.allSettled(
      ids.map((id, i) => crm.notifyCustomer(notice(id, 'reattempt', cases[i]?.caseId))),
    );
    const sent = delta(before, await requestCounts(sandbox));
    expect(sent[UPDATE_MANY]).toBe(1);
    expect(sent['PUT /api/v2/tickets/:id']).toBeUndefined();
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const err = (settled[3] as PromiseRejectedResult).reason as ShipsyncError;
    expect([err.code, err.details.field, err.details.status]).toEqual(['CRM_REJECTED', 'status', 422]);
    for (const [i, id] of ids.slice(0, 3).entries()) {
      const n = await api(sandbox.url, 'GET', `/__sandbox/notifications?external_id=${id}`);
      expect(n.body.notifications).toEqual([
        expect.objectContaining({ ticketId: Number(cases[i]?.caseId), key: `${id}:notice:reattempt` }),
      ]);
    }
    // A retry (not a first try) finds its comment and writes nothing.
    await crm.notifyCustomer({ ...notice(ids[0] ?? '', 'reattempt', cases[0]?.caseId), firstTry: false });
    expect((await effects('notification', 'shipment-B300:')).map((e) => e.count)).toEqual([1]);
  });

  it('when shipments without a case are notified at once then their threads open in one create_many and are remembered', async () => {
    const ids = ['shipment-B400', 'shipment-B401', 'shipment-B402'];
    // A window wide enough that the three lookups end within it, however busy the machine.
    const crm = createCrmAdapter({
      baseUrl: sandbox.url,
      bulk: { maxItems: 50, windowMs: 300 },
      jobWait: { firstPollMs: 20 },
    });
    const before = await requestCounts(sandbox);
    await Promise.all(ids.map((id) => crm.notifyCustomer(notice(id, 'planned'))));
    const first = delta(before, await requestCounts(sandbox));
    expect(first['GET /api/v2/tickets']).toBe(3);
    expect(first[CREATE_MANY]).toBe(1);
    expect(first[UPDATE_MANY]).toBe(1);
    const mid = await requestCounts(sandbox);
    await Promise.all(ids.map((id) => crm.notifyCustomer(notice(id, 'started'))));
    const second = delta(mid, await requestCounts(sandbox));
    expect(second['GET /api/v2/tickets']).toBeUndefined();
    expect(second[UPDATE_MANY]).toBe(1);
    for (const id of ids) {
      const tickets = await api(sandbox.url, 'GET', `/api/v2/tickets.json?external_id=${id}`);
      expect(tickets.body.tickets).toHaveLength(1);
      const n = await api(sandbox.url, 'GET', `/__sandbox/notifications?external_id=${id}`);
      expect((n.body.notifications as Json[]).map((x) => x.key)).toEqual([
        `${id}:notice:planned`,
        `${id}:notice:started`,
      ]);
    }
  });

  it('when a remembered thread was closed since then the notice opens a follow-up thread', async () => {
    await crm.notifyCustomer(notice('shipment-B450', 'planned'));
    const [thread] = (await api(sandbox.url, 'GET', '/api/v2/tickets.json?external_id=shipment-B450')).body
      .tickets as Json[];
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${thread.id}.json`, { ticket: { status: 'closed' } });
    await crm.notifyCustomer(notice('shipment-B450', 'delayed'));
    const n = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-B450');
    const last = (n.body.notifications as Json[]).at(-1);
    expect(last.key).toBe('shipment-B450:notice:delayed');
    expect(last.ticketId).not.toBe(thread.id);
  });

  it('when cases are closed at once then one show_many and one update_many close them, solved and closed ones are left', async () => {
    const ids = ['shipment-B500', 'shipment-B501', 'shipment-B502', 'shipment-B503', 'shipment-B504'];
    const cases = (await Promise.all(ids.map((id) => crm.openCase(caseInput(id))))).map((c) => c.caseId);
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${cases[3]}.json`, { ticket: { status: 'solved' } });
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${cases[4]}.json`, { ticket: { status: 'closed' } });
    const before = await requestCounts(sandbox);
    await Promise.all(cases.map((c, i) => crm.closeCase(c, 'Delivered.', `${ids[i]}:case:close`)));
    const sent = delta(before, await requestCounts(sandbox));
    expect(sent[SHOW_MANY]).toBe(1);
    expect(sent[UPDATE_MANY]).toBe(1);
    expect(sent['GET /api/v2/tickets/:id']).toBeUndefined();
    const solved = await Promise.all(
      cases.map(async (c) => (await api(sandbox.url, 'GET', `/api/v2/tickets/${c}.json`)).body.ticket.status),
    );
    expect(solved).toEqual(['solved', 'solved', 'solved', 'solved', 'closed']);
    const closings = await effects('ticket_solved', 'shipment-B50');
    expect(closings.map((e) => [e.key, e.count])).toEqual([
      ['shipment-B500:case:close', 1],
      ['shipment-B501:case:close', 1],
      ['shipment-B502:case:close', 1],
    ]);
    // Closing again reads them (one show_many) and writes nothing.
    const again = await requestCounts(sandbox);
    await Promise.all(cases.map((c, i) => crm.closeCase(c, 'Delivered.', `${ids[i]}:case:close`)));
    expect(delta(again, await requestCounts(sandbox))).toEqual({ [SHOW_MANY]: 1 });
    const unknown = await Promise.allSettled([
      crm.closeCase(cases[0] ?? '', 'Delivered.', 'x'),
      crm.closeCase('99999999', 'Delivered.', 'y'),
    ]);
    expect(unknown[0]?.status).toBe('fulfilled');
    expect(((unknown[1] as PromiseRejectedResult).reason as ShipsyncError).code).toBe('CRM_TICKET_NOT_FOUND');
  });

  it('when several cases pass their SLA at once then one show_many and one update_many raise them, solved and already urgent ones are left', async () => {
    const ids = ['shipment-B520', 'shipment-B521', 'shipment-B522', 'shipment-B523', 'shipment-B524'];
    const cases = (await Promise.all(ids.map((id) => crm.openCase(caseInput(id))))).map((c) => c.caseId);
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${cases[3]}.json`, { ticket: { status: 'solved' } });
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${cases[4]}.json`, { ticket: { priority: 'urgent' } });
    const raise = (c: string, i: number) =>
      crm.raiseCasePriority({
        caseId: c,
        priority: 'urgent',
        note: 'Open past its resolution SLA.',
        idempotencyKey: `${ids[i]}:case-priority:urgent`,
      });
    const before = await requestCounts(sandbox);
    await Promise.all(cases.map(raise));
    const sent = delta(before, await requestCounts(sandbox));
    expect([sent[SHOW_MANY], sent[UPDATE_MANY]]).toEqual([1, 1]);
    expect(sent[JOB_STATUS]).toBeGreaterThanOrEqual(1);
    expect(sent['GET /api/v2/tickets/:id']).toBeUndefined();
    expect(sent['PUT /api/v2/tickets/:id']).toBeUndefined();
    const tickets = await Promise.all(
      cases.map(async (c) => (await api(sandbox.url, 'GET', `/api/v2/tickets/${c}.json`)).body.ticket),
    );
    expect(tickets.map((t) => t.priority)).toEqual(['urgent', 'urgent', 'urgent', 'high', 'urgent']);
    expect(tickets[3].status).toBe('solved');
    // Raising again reads them (one show_many) and writes nothing.
    const again = await requestCounts(sandbox);
    await Promise.all(cases.map(raise));
    expect(delta(again, await requestCounts(sandbox))).toEqual({ [SHOW_MANY]: 1 });
  });

  it('when the read model reads the cases closed shipments opened then one show_many carries them and a stray ticket is left to the listing', async () => {
    const ids = ['shipment-B900', 'shipment-B901', 'shipment-B902'];
    const opened = (await Promise.all(ids.map((id) => crm.openCase(caseInput(id))))).map((c) => c.caseId);
    await crm.closeCase(opened[1] ?? '', 'Delivered.', 'shipment-B901:case:close');
    // A second case of B900 that its run does not name (opened by hand in the CRM, say).
    const stray = await crm.openCase(caseInput('shipment-B900', { idempotencyKey: 'shipment-B900:by-hand' }));
    const before = await requestCounts(sandbox);
    const read = await Promise.all(
      // B902's run names a ticket deleted since as well: it is left out.
      ids.map((id, i) => crm.caseTicketsOf(id, i === 2 ? [opened[i] ?? '', '99999999'] : [opened[i] ?? ''])),
    );
    expect(delta(before, await requestCounts(sandbox))).toEqual({ [SHOW_MANY]: 1 });
    expect(read.map((cases) => cases.map((c) => c.caseId))).toEqual(opened.map((c) => [c]));
    expect(read.map((cases) => cases.map((c) => [c.kind, c.status, c.resolvedAt !== undefined]))).toEqual([
      [['failed_attempt', 'new', false]],
      [['failed_attempt', 'solved', true]],
      [['failed_attempt', 'new', false]],
    ]);
    // Without the run's ids (a rebuild), the shipment's tickets are listed by external id: the stray too.
    const listed = await requestCounts(sandbox);
    const all = await crm.caseTicketsOf('shipment-B900');
    expect(all.map((c) => c.caseId).sort()).toEqual([opened[0], stray.caseId].sort());
    expect(delta(listed, await requestCounts(sandbox))).toEqual({ 'GET /api/v2/tickets': 1 });
  });
});

describe('CRM adapter bulk jobs and limits', () => {
  it('when a job stays queued a while then the adapter polls it until it completes', async () => {
    const sandbox = await startCrmSandbox({ jobDelayMs: 2_000 });
    try {
      const crm = createCrmAdapter({
        baseUrl: sandbox.url,
        jobWait: { firstPollMs: 50, maxPollMs: 100 },
      });
      const refs = await Promise.all(
        ['shipment-J100', 'shipment-J101'].map((id) => crm.openCase(caseInput(id))),
      );
      expect(refs.map((r) => Number(r.caseId))).toEqual([1, 2]);
      const counts = await requestCounts(sandbox);
      expect(counts.byRoute[CREATE_MANY]).toBe(1);
      expect(counts.byRoute[JOB_STATUS]).toBeGreaterThanOrEqual(2);
    } finally {
      await sandbox.close();
    }
  });

  it('when two jobs start a moment apart then their polls meet on the shared grid in one job_statuses/show_many', async () => {
    const sandbox = await startCrmSandbox({ seed: 13, rateLimitPerMinute: 100_000 });
    const tick = 2_000;
    /** Two create_many jobs 200 ms apart, begun just after a grid point; the requests they cost. */
    const twoJobs = async (pollTickMs: number, prefix: string) => {
      const crm = createCrmAdapter({
        baseUrl: sandbox.url,
        bulk: { maxItems: 50, windowMs: 5 },
        jobWait: { firstPollMs: 20, pollTickMs },
      });
      await sleep(tick - (Date.now() % tick));
      const before = await requestCounts(sandbox);
      const open = (ids: string[]) => Promise.all(ids.map((id) => crm.openCase(caseInput(id))));
      const first = open([`shipment-${prefix}1`, `shipment-${prefix}2`]);
      await sleep(200);
      const second = open([`shipment-${prefix}3`, `shipment-${prefix}4`]);
      const refs = [...(await first), ...(await second)];
      expect(new Set(refs.map((r) => r.caseId)).size).toBe(4);
      return delta(before, await requestCounts(sandbox));
    };
    try {
      const shared = await twoJobs(tick, 'G1');
      expect(shared[CREATE_MANY]).toBe(2);
      expect(shared[JOB_SHOW_MANY]).toBe(1);
      expect(shared[JOB_STATUS]).toBeUndefined();
      // Without the grid each job is polled on its own, 20 ms after it began.
      const apart = await twoJobs(0, 'G2');
      expect(apart[CREATE_MANY]).toBe(2);
      expect(apart[JOB_STATUS]).toBe(2);
      expect(apart[JOB_SHOW_MANY]).toBeUndefined();
    } finally {
      await sandbox.close();
    }
  });

  /**
   * Opens two cases in one create_many whose job outlives the adapter's 300 ms bound: both first tries fail
   * as retryable CRM_UNAVAILABLE.
   */
  async function casesInUnfinishedJob(sandbox: CrmSandbox, shipmentIds: string[]) {
    const crm = createCrmAdapter({
      baseUrl: sandbox.url,
      jobWait: { firstPollMs: 50, maxPollMs: 100, timeoutMs: 300 },
    });
    const inputs = shipmentIds.map((id) => caseInput(id));
    const settled = await Promise.allSettled(inputs.map((i) => crm.openCase(i)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    for (const s of settled) {
      const err = (s as PromiseRejectedResult).reason as ShipsyncError;
      expect([err.code, err.retryable]).toEqual(['CRM_UNAVAILABLE', true]);
      expect(err.message).toMatch(/still (queued|working)/);
    }
    return { crm, inputs };
  }

  /** Once the job is done, the retries get the job's two tickets and the CRM holds no others. */
  async function retriesGetTheJobsTickets(
    sandbox: CrmSandbox,
    crm: ZendeskCrmAdapter,
    inputs: OpenCaseInput[],
  ) {
    await sandbox.drain();
    const retried = await Promise.all(inputs.map((i) => crm.openCase({ ...i, firstTry: false })));
    expect(retried.map((r) => Number(r.caseId))).toEqual([1, 2]);
    expect(sandbox.store.all()).toHaveLength(2);
  }

  it('when a job is not done within the bound then the batch fails as CRM_UNAVAILABLE and a retry finds the tickets', async () => {
    const sandbox = await startCrmSandbox({ jobDelayMs: 1_000 });
    try {
      const { crm, inputs } = await casesInUnfinishedJob(sandbox, ['shipment-J200', 'shipment-J201']);
      await retriesGetTheJobsTickets(sandbox, crm, inputs);
    } finally {
      await sandbox.close();
    }
  });

  it('when a create is retried while its job is still queued then no second ticket is opened, and the retry after the job gets the same ticket', async () => {
    const sandbox = await startCrmSandbox({ jobDelayMs: 3_000 });
    try {
      const { crm, inputs } = await casesInUnfinishedJob(sandbox, ['shipment-J210', 'shipment-J211']);
      // The activity's retry comes while the job still waits: it polls that job and creates nothing.
      const before = await requestCounts(sandbox);
      for (const i of inputs) {
        const err = await expectCode(crm.openCase({ ...i, firstTry: false }), 'CRM_UNAVAILABLE');
        expect(err.retryable).toBe(true);
        expect(err.message).toMatch(/which creates this ticket, is still queued; not creating it again/);
      }
      const during = delta(before, await requestCounts(sandbox));
      expect(during[CREATE_MANY]).toBeUndefined();
      expect(during['POST /api/v2/tickets']).toBeUndefined();
      await retriesGetTheJobsTickets(sandbox, crm, inputs);
    } finally {
      await sandbox.close();
    }
  });

  it('when an earlier attempt names a job for another key then the retry ignores it and creates its own ticket', async () => {
    const sandbox = await startCrmSandbox();
    try {
      const crm = createCrmAdapter({ baseUrl: sandbox.url });
      const told: unknown[] = [];
      const before = await requestCounts(sandbox);
      const ref = await crm.openCase(
        caseInput('shipment-J220', {
          firstTry: false,
          createJobs: {
            earlier: { jobId: 'f0f0f0f0', index: 0, key: 'shipment-J999:case:failed_attempt:1' },
            started: (job) => told.push(job),
          },
        }),
      );
      const during = delta(before, await requestCounts(sandbox));
      expect(during[JOB_STATUS]).toBeUndefined();
      expect(during['POST /api/v2/tickets']).toBe(1);
      expect(sandbox.store.get(Number(ref.caseId))?.externalId).toBe('shipment-J220');
      // A lone create goes out as a single create with its Idempotency-Key: no job to tell of.
      expect(told).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });

  it('when the bulk call draws a 429 then every call of the batch fails as CRM_RATE_LIMITED and the next call waits Retry-After', async () => {
    // The sandbox's minute is 59 s old when the batch goes out, so its Retry-After is 1 s.
    let now = Date.parse('2026-12-01T08:00:00Z');
    const sandbox = await startCrmSandbox({ rateLimitPerMinute: 3, clock: () => now });
    try {
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      now += 59_000;
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      const crm = createCrmAdapter({ baseUrl: sandbox.url, jobWait: { firstPollMs: 20 } });
      const inputs = ['shipment-R300', 'shipment-R301', 'shipment-R302'].map((id) => caseInput(id));
      const settled = await Promise.allSettled(inputs.map((i) => crm.openCase(i)));
      for (const s of settled) {
        const err = (s as PromiseRejectedResult).reason as ShipsyncError;
        expect([err.code, err.retryable, err.details.retryAfterMs]).toEqual([
          'CRM_RATE_LIMITED',
          true,
          1_000,
        ]);
      }
      expect((await requestCounts(sandbox)).byRoute[CREATE_MANY]).toBe(1);
      const t0 = Date.now();
      now += 1_000;
      const refs = await Promise.all(inputs.map((i) => crm.openCase(i)));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect(new Set(refs.map((r) => r.caseId)).size).toBe(3);
      expect((await requestCounts(sandbox)).byRoute[CREATE_MANY]).toBe(2);
    } finally {
      await sandbox.close();
    }
  });

  it('when 120 cases are opened at once then no request carries more than Zendesk’s 100', async () => {
    const sandbox = await startCrmSandbox({ rateLimitPerMinute: 100_000 });
    try {
      const crm = createCrmAdapter({
        baseUrl: sandbox.url,
        bulk: { maxItems: 500, windowMs: 20 },
        jobWait: { firstPollMs: 20 },
      });
      const refs = await Promise.all(
        Array.from({ length: 120 }, (_, i) => crm.openCase(caseInput(`shipment-M${1000 + i}`))),
      );
      expect(new Set(refs.map((r) => r.caseId)).size).toBe(120);
      expect((await requestCounts(sandbox)).byRoute[CREATE_MANY]).toBe(2);
      expect(crm.bulkStats().creates).toEqual({ requests: 2, items: 120 });
    } finally {
      await sandbox.close();
    }
  });

  it('when the pace is spent then calls arriving one by one gather behind it into one create_many', async () => {
    const sandbox = await startCrmSandbox({ rateLimitPerMinute: 100_000 });
    try {
      // 60 a minute: six per rolling six seconds; the six lookups spend this window's share.
      const crm = createCrmAdapter({
        baseUrl: sandbox.url,
        requestsPerMinute: 60,
        bulk: { maxItems: 100, windowMs: 5 },
        jobWait: { firstPollMs: 20 },
      });
      await Promise.all([1, 2, 3, 4, 5, 6].map((n) => crm.listCases(`shipment-W10${n}`)));
      const calls: Promise<{ caseId: string }>[] = [];
      for (let i = 0; i < 20; i++) {
        calls.push(crm.openCase(caseInput(`shipment-W${200 + i}`)));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const refs = await Promise.all(calls);
      expect(new Set(refs.map((r) => r.caseId)).size).toBe(20);
      const counts = (await requestCounts(sandbox)).byRoute;
      // The first call goes alone (nothing was waiting yet); the 19 that came while it waited, together.
      expect([counts['POST /api/v2/tickets'], counts[CREATE_MANY]]).toEqual([1, 1]);
    } finally {
      await sandbox.close();
    }
  }, 30_000);

  describe('requests for N concurrent operations, one call at a time and with bulk calls', () => {
    const N = 50;
    const ONE_AT_A_TIME = { maxItems: 1, windowMs: 0 };
    const BULK = { maxItems: 100, windowMs: 20 };

    /** Runs `setup` then `measured` on a fresh sandbox and counts the requests `measured` made. */
    const count = async (
      bulk: { maxItems: number; windowMs: number },
      setup: (crm: ZendeskCrmAdapter) => Promise<string[]>,
      measured: (crm: ZendeskCrmAdapter, cases: string[]) => Promise<unknown>,
    ) => {
      const sandbox = await startCrmSandbox({ rateLimitPerMinute: 1_000_000 });
      try {
        const prepare = createCrmAdapter({ baseUrl: sandbox.url, jobWait: { firstPollMs: 20 } });
        const cases = await setup(prepare);
        const crm = createCrmAdapter({ baseUrl: sandbox.url, bulk, jobWait: { firstPollMs: 50 } });
        const before = await requestCounts(sandbox);
        await measured(crm, cases);
        const after = await requestCounts(sandbox);
        return { total: after.total - before.total, byRoute: delta(before, after) };
      } finally {
        await sandbox.close();
      }
    };
    const ids = (p: string) => Array.from({ length: N }, (_, i) => `shipment-${p}${100 + i}`);
    const openAll = (p: string) => async (crm: ZendeskCrmAdapter) =>
      (await Promise.all(ids(p).map((id) => crm.openCase(caseInput(id))))).map((c) => c.caseId);
    const none = async () => [];

    const kinds: [
      string,
      (crm: ZendeskCrmAdapter) => Promise<string[]>,
      (crm: ZendeskCrmAdapter, cases: string[]) => Promise<unknown>,
    ][] = [
      ['open a case', none, (crm) => openAll('O')(crm)],
      [
        'notify on the case',
        openAll('C'),
        (crm, cases) => Promise.all(ids('C').map((id, i) => crm.notifyCustomer(notice(id, 'x', cases[i])))),
      ],
      [
        'close the case',
        openAll('Z'),
        (crm, cases) => Promise.all(cases.map((c) => crm.closeCase(c, 'Done.', `${c}:close`))),
      ],
      [
        'first notice of a shipment (no thread yet)',
        none,
        (crm) => Promise.all(ids('T').map((id) => crm.notifyCustomer(notice(id, 'planned')))),
      ],
      [
        'first notice of a shipment, the workflow saying so',
        none,
        (crm) =>
          Promise.all(
            ids('F').map((id) => crm.notifyCustomer({ ...notice(id, 'planned'), firstNotice: true })),
          ),
      ],
    ];

    it.each(kinds)(
      '%s',
      async (kind, setup, measured) => {
        const one = await count(ONE_AT_A_TIME, setup, measured);
        const shared = await count(BULK, setup, measured);
        const [single, bulk] = [one.total, shared.total];
        console.info(`${N} × ${kind}: ${single} requests one call at a time, ${bulk} with bulk calls`);
        if (kind === 'first notice of a shipment (no thread yet)') {
          // Finding the thread is one list request per shipment (Zendesk lists tickets by one external id);
          // opening the threads and adding the comments are shared, as far as the lookups end together.
          expect(single).toBe(3 * N);
          expect(shared.byRoute['GET /api/v2/tickets']).toBe(N);
          expect(shared.byRoute['POST /api/v2/tickets/create_many']).toBeGreaterThanOrEqual(1);
          expect(bulk).toBeLessThan(single);
        } else if (kind.startsWith('first notice')) {
          // The notice opens the thread as its first comment: one create each alone, one create_many shared.
          expect(single).toBe(N);
          expect(shared.byRoute['GET /api/v2/tickets']).toBeUndefined();
          expect(bulk * 5).toBeLessThanOrEqual(single);
        } else {
          expect(bulk * 5).toBeLessThanOrEqual(single);
        }
      },
      30_000,
    );
  });
});

describe('Zendesk sandbox bulk endpoints', () => {
  let sandbox: CrmSandbox;

  beforeAll(async () => {
    sandbox = await startCrmSandbox({ seed: 13, rateLimitPerMinute: 100_000 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const job = async (id: string) => {
    await sandbox.drain();
    return (await api(sandbox.url, 'GET', `/api/v2/job_statuses/${id}.json`)).body.job_status;
  };
  const remaining = (res: { headers: Headers }) => Number(res.headers.get('x-rate-limit-remaining'));

  it('when tickets are created in bulk then the answer is a queued job, counted as one request, and the job creates each item or fails it alone', async () => {
    const ok = (n: number) => ({
      subject: `Bulk ${n}`,
      comment: { body: `Body ${n}` },
      external_id: `bulk-${n}`,
    });
    const res = await api(sandbox.url, 'POST', '/api/v2/tickets/create_many.json', {
      tickets: [ok(1), { subject: 'No description' }, ok(3), 'not a ticket'],
    });
    expect(res.status).toBe(200);
    expect(res.body.job_status).toMatchObject({ status: 'queued', total: 4, progress: null, results: null });
    expect(res.body.job_status.url).toBe(`${sandbox.url}/api/v2/job_statuses/${res.body.job_status.id}.json`);
    const next = await api(sandbox.url, 'GET', '/api/v2/tickets.json?external_id=bulk-1');
    expect(remaining(res) - remaining(next)).toBe(1);

    const done = await job(res.body.job_status.id);
    expect(done).toMatchObject({ status: 'completed', total: 4, progress: 4 });
    expect(done.results).toEqual([
      { index: 0, id: expect.any(Number), external_id: 'bulk-1', status: 'Created' },
      { index: 1, error: 'RecordInvalid', details: 'Description: cannot be blank' },
      { index: 2, id: expect.any(Number), external_id: 'bulk-3', status: 'Created' },
      { index: 3, error: 'RecordInvalid', details: 'Ticket: must be an object' },
    ]);
    const polled = await api(sandbox.url, 'GET', `/api/v2/job_statuses/${done.id}`);
    const after = await api(sandbox.url, 'GET', `/api/v2/job_statuses/${done.id}`);
    expect(remaining(polled) - remaining(after)).toBe(1);
  });

  it.each([
    ['more than 100 tickets', { tickets: Array.from({ length: 101 }, () => ({ comment: { body: 'x' } })) }],
    ['no tickets', { tickets: [] }],
    ['no tickets array', { ticket: { comment: { body: 'x' } } }],
  ])('when create_many gets %s then it answers 400 and queues nothing', async (_what, body) => {
    const res = await api(sandbox.url, 'POST', '/api/v2/tickets/create_many.json', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('InvalidValue');
  });

  it('when tickets are updated in bulk by ids then one change applies to each, and an unknown or closed ticket fails alone', async () => {
    const made = await Promise.all(
      [1, 2, 3].map(
        async (n) =>
          (
            await api(sandbox.url, 'POST', '/api/v2/tickets.json', {
              ticket: { comment: { body: `Update ${n}` }, external_id: 'bulk-upd' },
            })
          ).body.ticket.id as number,
      ),
    );
    const [a, b, c] = made;
    await api(sandbox.url, 'PUT', `/api/v2/tickets/${c}.json`, { ticket: { status: 'closed' } });
    const res = await api(sandbox.url, 'PUT', `/api/v2/tickets/update_many.json?ids=${a},${b},${c},999999`, {
      ticket: { priority: 'urgent', additional_tags: ['bulk'] },
    });
    expect(res.status).toBe(200);
    expect(res.body.job_status.status).toBe('queued');
    const done = await job(res.body.job_status.id);
    expect(done.status).toBe('completed');
    expect(done.results).toEqual([
      { index: 0, id: a, action: 'update', success: true, status: 'Updated' },
      { index: 1, id: b, action: 'update', success: true, status: 'Updated' },
      expect.objectContaining({
        id: c,
        success: false,
        error: 'RecordInvalid',
        details: 'Status: closed prevents ticket update',
      }),
      expect.objectContaining({ id: 999999, success: false, error: 'RecordNotFound' }),
    ]);
    const shown = await api(sandbox.url, 'GET', `/api/v2/tickets/show_many.json?ids=${a},${c},999999`);
    expect((shown.body.tickets as Json[]).map((t) => [t.id, t.priority, t.tags])).toEqual([
      [a, 'urgent', ['bulk']],
      [c, null, []],
    ]);
  });

  it('when tickets are updated in bulk one by one then each gets its own change', async () => {
    const make = async (n: number) =>
      (
        await api(sandbox.url, 'POST', '/api/v2/tickets.json', {
          ticket: { comment: { body: `Batch ${n}` }, external_id: 'bulk-batch' },
        })
      ).body.ticket.id as number;
    const a = await make(1);
    const b = await make(2);
    const res = await api(sandbox.url, 'PUT', '/api/v2/tickets/update_many', {
      tickets: [
        {
          id: a,
          status: 'solved',
          comment: { body: 'Done', public: false },
          metadata: { shipsync_idempotency_key: 'bk-a' },
        },
        { id: b, comment: { body: 'Hello customer' } },
        { status: 'open' },
      ],
    });
    const done = await job(res.body.job_status.id);
    expect(done.results.map((r: Json) => [r.id, r.status])).toEqual([
      [a, 'Updated'],
      [b, 'Updated'],
      [null, 'Failed'],
    ]);
    const statuses = await api(sandbox.url, 'GET', `/api/v2/tickets/show_many?ids=${a},${b}`);
    expect((statuses.body.tickets as Json[]).map((t) => t.status)).toEqual(['solved', 'open']);
    expect(sandbox.effects.list({ kind: 'ticket_solved' }).find((e) => e.key === 'bk-a')?.count).toBe(1);
  });

  it.each([
    [
      'more than 100 ids',
      `?ids=${Array.from({ length: 101 }, (_, i) => i + 1).join(',')}`,
      { ticket: { priority: 'low' } },
    ],
    ['ids that are not ticket ids', '?ids=1,abc', { ticket: { priority: 'low' } }],
    ['ids without a ticket', '?ids=1,2', { tickets: [{ id: 1 }] }],
    ['more than 100 tickets', '', { tickets: Array.from({ length: 101 }, (_, i) => ({ id: i + 1 })) }],
    ['neither ids nor tickets', '', { ticket: { priority: 'low' } }],
  ])('when update_many gets %s then it answers 400', async (_what, query, body) => {
    const res = await api(sandbox.url, 'PUT', `/api/v2/tickets/update_many.json${query}`, body);
    expect(res.status).toBe(400);
  });

  it('when show_many names more than 100 ids or none then it answers 400', async () => {
    const many = Array.from({ length: 101 }, (_, i) => i + 1).join(',');
    expect((await api(sandbox.url, 'GET', `/api/v2/tickets/show_many.json?ids=${many}`)).status).toBe(400);
    expect((await api(sandbox.url, 'GET', '/api/v2/tickets/show_many.json')).status).toBe(400);
  });

  it('when a job id is unknown then job_statuses answers 404 RecordNotFound', async () => {
    const res = await api(sandbox.url, 'GET', '/api/v2/job_statuses/0123456789abcdef0123456789abcdef.json');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'RecordNotFound', description: 'Not found' });
  });

  it('when a job waits its delay then a poll sees it queued, then working or completed', async () => {
    sandbox.jobs.delayMs = 300;
    try {
      const res = await api(sandbox.url, 'POST', '/api/v2/tickets/create_many', {
        tickets: [{ comment: { body: 'late 1' } }, { comment: { body: 'late 2' } }],
      });
      const id = res.body.job_status.id as string;
      expect((await api(sandbox.url, 'GET', `/api/v2/job_statuses/${id}`)).body.job_status.status).toBe(
        'queued',
      );
      const done = await waitFor(async () => {
        const s = (await api(sandbox.url, 'GET', `/api/v2/job_statuses/${id}`)).body.job_status;
        return s.status === 'completed' ? s : undefined;
      });
      expect(done.progress).toBe(2);
    } finally {
      sandbox.jobs.delayMs = 0;
    }
  });

  it('when the budget is spent then a bulk call and a job poll draw 429 like any other request', async () => {
    const limited = await startCrmSandbox({ rateLimitPerMinute: 2 });
    try {
      const res = await api(limited.url, 'POST', '/api/v2/tickets/create_many', {
        tickets: [{ comment: { body: 'one' } }, { comment: { body: 'two' } }],
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-rate-limit-remaining')).toBe('1');
      await limited.drain();
      const poll = await api(limited.url, 'GET', `/api/v2/job_statuses/${res.body.job_status.id}`);
      expect(poll.body.job_status.status).toBe('completed');
      const refused = await api(limited.url, 'PUT', '/api/v2/tickets/update_many?ids=1,2', {
        ticket: { priority: 'low' },
      });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('APIRateLimitExceeded');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await limited.close();
    }
  });
});
