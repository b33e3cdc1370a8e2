import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ShipsyncError, type ErrorCode } from '../../../src/domain/errors.js';
import { createCrmAdapter, type ZendeskCrmAdapter } from '../../../src/integrations/crm/adapter.js';
import {
  DEFAULT_FIELD_IDS,
  KEY_METADATA_KEY,
  PLAN_METADATA_KEY,
} from '../../../src/integrations/crm/mappers.js';
import type { OpenCaseInput } from '../../../src/integrations/crm/mappers.js';
import { IDEMPOTENCY_TTL_MS, startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { freePort } from '../../support/ports.js';
import { api, type Json } from './helpers.js';

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
    ...over,
  };
}

/** A customer notice of a shipment (`shipment-N270`: delivery N270), its key `<shipment>:notice:<key>:1`. */
function noticeOf(shipmentId: string, key: string) {
  return {
    shipmentId,
    deliveryId: shipmentId.replace('shipment-', ''),
    customerId: 'C1001',
    message: `Notice ${key}.`,
    idempotencyKey: `${shipmentId}:notice:${key}:1`,
  };
}

const plan = {
  eta: '2026-12-01T15:20:00Z',
  window: { start: '2026-12-01T14:00:00Z', end: '2026-12-01T18:00:00Z' },
};

describe('CRM adapter against the Zendesk sandbox', () => {
  let sandbox: CrmSandbox;
  let crm: ZendeskCrmAdapter;

  beforeAll(async () => {
    sandbox = await startCrmSandbox({ seed: 11, rateLimitPerMinute: 5000 });
    crm = createCrmAdapter({ baseUrl: sandbox.url, email: 'shipsync@example.com', token: 'test-token' });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  afterEach(async () => {
    await api(sandbox.url, 'POST', '/__sandbox/faults', {
      outageUntilMs: 0,
      rateLimitStormUntilMs: 0,
      latencyMs: 0,
    });
  });

  const effects = async (kind: string, key: string) =>
    ((await api(sandbox.url, 'GET', `/__sandbox/effects?kind=${kind}`)).body.effects as Json[]).filter(
      (e) => e.key === key,
    );

  describe('openCase', () => {
    it('when a case is a first try then no lookup precedes it, and Zendesk still answers a repeat with the same ticket', async () => {
      const input = caseInput('shipment-S260');
      const first = await crm.openCase({ ...input, firstTry: true });
      const again = await crm.openCase({ ...input, firstTry: true });
      expect(again.caseId).toBe(first.caseId);
      expect(await effects('ticket_created', input.idempotencyKey)).toEqual([
        expect.objectContaining({ count: 1 }),
      ]);
    });

    it('when a case is opened then one ticket carries the shipment, the kind tag and the fields', async () => {
      const { caseId } = await crm.openCase(caseInput('shipment-C100'));
      const { status, body } = await api(sandbox.url, 'GET', `/api/v2/tickets/${caseId}.json`);
      expect(status).toBe(200);
      expect(body.ticket).toMatchObject({
        id: Number(caseId),
        external_id: 'shipment-C100',
        status: 'new',
        priority: 'high',
        subject: 'Failed delivery attempt for shipment-C100',
        tags: ['shipsync_case', 'shipsync_kind_failed_attempt'],
      });
      expect(body.ticket.custom_fields).toContainEqual({
        id: DEFAULT_FIELD_IDS.caseKind,
        value: 'failed_attempt',
      });
      const cases = await api(sandbox.url, 'GET', '/__sandbox/cases?external_id=shipment-C100');
      expect(cases.body.cases).toEqual([
        expect.objectContaining({ ticketId: Number(caseId), kind: 'failed_attempt' }),
      ]);
    });

    it('when openCase is replayed with the same key then the same ticket comes back and was created once', async () => {
      const input = caseInput('shipment-C101');
      const first = await crm.openCase(input);
      const again = await Promise.all([crm.openCase(input), crm.openCase(input)]);
      expect(again.map((r) => r.caseId)).toEqual([first.caseId, first.caseId]);
      expect(await effects('ticket_created', input.idempotencyKey)).toEqual([
        expect.objectContaining({ count: 1, entityId: first.caseId }),
      ]);
      const listed = await api(sandbox.url, 'GET', '/api/v2/tickets.json?external_id=shipment-C101');
      expect(listed.body.tickets).toHaveLength(1);
    });

    it('when a key is reused with another body then Zendesk answers IdempotentRequestError and the adapter raises CRM_IDEMPOTENCY_CONFLICT', async () => {
      const key = 'shipment-C102:case:delay:1';
      const body = {
        ticket: { subject: 'Late', comment: { body: 'Running late' }, external_id: 'shipment-C102' },
      };
      const created = await api(sandbox.url, 'POST', '/api/v2/tickets.json', body, {
        'idempotency-key': key,
      });
      expect(created.status).toBe(201);
      expect(created.headers.get('x-idempotency-lookup')).toBe('miss');
      const replay = await api(sandbox.url, 'POST', '/api/v2/tickets.json', body, { 'idempotency-key': key });
      expect(replay.status).toBe(201);
      expect(replay.headers.get('x-idempotency-lookup')).toBe('hit');
      expect(replay.body.ticket.id).toBe(created.body.ticket.id);
      const other = { ticket: { ...body.ticket, subject: 'Very late' } };
      const conflict = await api(sandbox.url, 'POST', '/api/v2/tickets.json', other, {
        'idempotency-key': key,
      });
      expect(conflict.status).toBe(400);
      expect(conflict.body).toEqual({
        error: 'IdempotentRequestError',
        description: "Request parameters don't match the given idempotency key",
      });

      await crm.openCase(caseInput('shipment-C103', { idempotencyKey: 'shared-key-1' }));
      const err = await expectCode(
        crm.openCase(caseInput('shipment-C104', { idempotencyKey: 'shared-key-1' })),
        'CRM_IDEMPOTENCY_CONFLICT',
      );
      expect(err.retryable).toBe(false);
      expect(err.details.status).toBe(400);
      await expectCode(
        crm.openCase(caseInput('shipment-C103', { idempotencyKey: 'shared-key-1', kind: 'damage' })),
        'CRM_IDEMPOTENCY_CONFLICT',
      );
    });
  });

  describe('notifyCustomer', () => {
    it('when a notice is a first try then it costs one request fewer, and a retry of it still finds its comment', async () => {
      // The adapter remembers the shipment's notice thread once it found or opened it, so after the first notice
      // a first try is the comment alone and a retry the comment read plus the comment.
      const notice = (key: string) => noticeOf('shipment-N260', key);
      // The budget header counts requests; reading it costs one request too.
      const remaining = async () =>
        Number((await api(sandbox.url, 'GET', '/api/v2/tickets.json')).headers.get('x-rate-limit-remaining'));
      await crm.notifyCustomer(notice('thread'));
      const r0 = await remaining();
      await crm.notifyCustomer({ ...notice('first'), firstTry: true });
      const r1 = await remaining();
      await crm.notifyCustomer(notice('retried'));
      const r2 = await remaining();
      expect(r0 - r1 - 1).toBe(1);
      expect(r1 - r2 - 1).toBe(2);
      // Another worker (a fresh adapter) has to look the thread up first.
      const other = createCrmAdapter({ baseUrl: sandbox.url });
      await other.notifyCustomer({ ...notice('other-worker'), firstTry: true });
      const r3 = await remaining();
      expect(r2 - r3 - 1).toBe(2);
      await crm.notifyCustomer(notice('first'));
      const notices = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-N260');
      expect(notices.body.count).toBe(4);
    });

    it("when a shipment's first notice is a first try then it opens the notice ticket as its first comment, in one request, and later notices named to that ticket cost one each", async () => {
      const id = 'shipment-N270';
      const notice = (key: string) => ({ ...noticeOf(id, key), plan });
      const counts = async () =>
        (await api(sandbox.url, 'GET', '/__sandbox/requests')).body as { total: number; byRoute: Json };
      const c0 = await counts();
      const first = await crm.notifyCustomer({ ...notice('planned'), firstNotice: true, firstTry: true });
      const c1 = await counts();
      expect(first.thread).toBe(true);
      expect(c1.total - c0.total).toBe(1);
      expect(c1.byRoute['POST /api/v2/tickets'] - (c0.byRoute['POST /api/v2/tickets'] ?? 0)).toBe(1);
      // The ticket's first comment is the notice: public, keyed, with the plan; one notification effect.
      const tickets = (await api(sandbox.url, 'GET', `/api/v2/tickets.json?external_id=${id}`)).body.tickets;
      expect(tickets).toHaveLength(1);
      expect(String(tickets[0].id)).toBe(first.ticketId);
      const comments = (await api(sandbox.url, 'GET', `/api/v2/tickets/${first.ticketId}/comments.json`)).body
        .comments as Json[];
      expect(comments).toHaveLength(1);
      expect(comments[0]).toMatchObject({
        public: true,
        metadata: { custom: { [KEY_METADATA_KEY]: `${id}:notice:planned:1` } },
      });
      expect(comments[0].metadata.custom[PLAN_METADATA_KEY]).toBeDefined();
      // Another worker's retry of that first notice (not a first try) finds its comment and writes nothing.
      const other = createCrmAdapter({ baseUrl: sandbox.url });
      const retried = await other.notifyCustomer({
        ...notice('planned'),
        firstNotice: true,
        firstTry: false,
      });
      expect(retried.ticketId).toBe(first.ticketId);
      // A later notice naming the ticket, from a worker that never saw it: one update, no lookup.
      const c2 = await counts();
      const third = createCrmAdapter({ baseUrl: sandbox.url });
      await third.notifyCustomer({ ...notice('delayed'), threadId: first.ticketId, firstTry: true });
      const c3 = await counts();
      expect(c3.total - c2.total).toBe(1);
      const notices = await api(sandbox.url, 'GET', `/__sandbox/notifications?external_id=${id}`);
      expect((notices.body.notifications as Json[]).map((n) => n.key)).toEqual([
        `${id}:notice:planned:1`,
        `${id}:notice:delayed:1`,
      ]);
    });

    it('when the notice ticket a notice names was closed then the notice opens a follow-up ticket', async () => {
      const id = 'shipment-N280';
      const notice = (key: string) => noticeOf(id, key);
      const first = await crm.notifyCustomer({ ...notice('planned'), firstNotice: true, firstTry: true });
      await api(sandbox.url, 'PUT', `/api/v2/tickets/${first.ticketId}.json`, {
        ticket: { status: 'closed' },
      });
      const other = createCrmAdapter({ baseUrl: sandbox.url });
      const next = await other.notifyCustomer({
        ...notice('delayed'),
        threadId: first.ticketId,
        firstTry: true,
      });
      expect(next.ticketId).not.toBe(first.ticketId);
      const notices = await api(sandbox.url, 'GET', `/__sandbox/notifications?external_id=${id}`);
      expect((notices.body.notifications as Json[]).map((n) => [n.key, String(n.ticketId)])).toEqual([
        [`${id}:notice:planned:1`, first.ticketId],
        [`${id}:notice:delayed:1`, next.ticketId],
      ]);
    });

    it('when a notice is sent twice with one key then one public comment and one notification effect exist', async () => {
      const input = {
        shipmentId: 'shipment-N200',
        deliveryId: 'N200',
        customerId: 'C1001',
        message: 'Your delivery is planned between 14:00 and 18:00, around 15:20.',
        idempotencyKey: 'shipment-N200:notice:planned:1',
        plan,
      };
      await crm.notifyCustomer(input);
      await crm.notifyCustomer(input);
      const notices = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-N200');
      expect(notices.body.count).toBe(1);
      expect(notices.body.notifications[0]).toMatchObject({
        key: input.idempotencyKey,
        body: input.message,
        plan,
      });
      expect(await effects('notification', input.idempotencyKey)).toEqual([
        expect.objectContaining({ count: 1 }),
      ]);

      const ticketId = notices.body.notifications[0].ticketId as number;
      const comments = await api(sandbox.url, 'GET', `/api/v2/tickets/${ticketId}/comments.json`);
      const publicOnes = (comments.body.comments as Json[]).filter((c) => c.public);
      expect(publicOnes).toHaveLength(1);
      expect(publicOnes[0].metadata.custom).toEqual({
        [KEY_METADATA_KEY]: input.idempotencyKey,
        [PLAN_METADATA_KEY]:
          'shipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z',
      });

      await crm.notifyCustomer({
        ...input,
        message: 'Your driver is on the way.',
        idempotencyKey: 'shipment-N200:notice:started:1',
        plan: undefined,
      });
      const after = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-N200');
      expect(after.body.count).toBe(2);
      expect(new Set((after.body.notifications as Json[]).map((n) => n.ticketId))).toEqual(
        new Set([ticketId]),
      );
      const tickets = await api(sandbox.url, 'GET', '/api/v2/tickets.json?external_id=shipment-N200');
      expect(tickets.body.tickets).toHaveLength(1);
      expect(tickets.body.tickets[0].tags).toEqual(['shipsync_notifications']);
    });

    it('when the message carries the plan marker then the customer reads the text and the marker moves to metadata', async () => {
      await crm.notifyCustomer({
        shipmentId: 'shipment-N201',
        deliveryId: 'N201',
        customerId: 'C1001',
        message:
          'Arriving around 15:20.\nshipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z',
        idempotencyKey: 'shipment-N201:notice:planned:1',
      });
      const notices = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-N201');
      expect(notices.body.notifications[0]).toMatchObject({ body: 'Arriving around 15:20.', plan });
    });

    it('when a notice names a case then it is a public comment on the case ticket', async () => {
      const { caseId } = await crm.openCase(caseInput('shipment-N202'));
      await crm.notifyCustomer({
        shipmentId: 'shipment-N202',
        deliveryId: 'N202',
        customerId: 'C1001',
        caseId,
        message: 'We will try again tomorrow.',
        idempotencyKey: 'shipment-N202:notice:reattempt:1',
      });
      const notices = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-N202');
      expect(notices.body.notifications).toEqual([expect.objectContaining({ ticketId: Number(caseId) })]);
    });

    it('when a thread has more than a page of comments then a replayed key is still found', async () => {
      const base = { shipmentId: 'shipment-N203', deliveryId: 'N203', customerId: 'C1001' };
      for (let i = 1; i <= 101; i++) {
        await crm.notifyCustomer({
          ...base,
          message: `Update ${i}`,
          idempotencyKey: `shipment-N203:notice:${i}`,
        });
      }
      await crm.notifyCustomer({ ...base, message: 'Update 1', idempotencyKey: 'shipment-N203:notice:1' });
      await crm.notifyCustomer({
        ...base,
        message: 'Update 101',
        idempotencyKey: 'shipment-N203:notice:101',
      });
      const notices = await api(sandbox.url, 'GET', '/__sandbox/notifications?external_id=shipment-N203');
      expect(notices.body.count).toBe(101);
      const all = await api(sandbox.url, 'GET', '/__sandbox/effects?kind=notification');
      const mine = (all.body.effects as Json[]).filter((e) => String(e.key).startsWith('shipment-N203:'));
      expect(mine.every((e) => e.count === 1)).toBe(true);
    });

    it('when the case ticket is closed then a notice on it is CRM_REJECTED naming the status', async () => {
      const { caseId } = await crm.openCase(caseInput('shipment-N204'));
      expect(
        (await api(sandbox.url, 'PUT', `/api/v2/tickets/${caseId}.json`, { ticket: { status: 'closed' } }))
          .status,
      ).toBe(200);
      const err = await expectCode(
        crm.notifyCustomer({
          shipmentId: 'shipment-N204',
          deliveryId: 'N204',
          customerId: 'C1001',
          caseId,
          message: 'Hello',
          idempotencyKey: 'shipment-N204:notice:1',
        }),
        'CRM_REJECTED',
      );
      expect(err.details).toMatchObject({ status: 422, field: 'status' });
    });

    it('when a notice names a case that does not exist then it is CRM_TICKET_NOT_FOUND', async () => {
      await expectCode(
        crm.notifyCustomer({
          shipmentId: 'shipment-N205',
          deliveryId: 'N205',
          customerId: 'C1001',
          caseId: '987654',
          message: 'Hello',
          idempotencyKey: 'shipment-N205:notice:1',
        }),
        'CRM_TICKET_NOT_FOUND',
      );
    });
  });

  describe('closeCase', () => {
    it('when a case is closed twice then it is solved once with one closing comment', async () => {
      const { caseId } = await crm.openCase(caseInput('shipment-S300'));
      await crm.closeCase(
        caseId,
        'Delivered on the second attempt.',
        'shipment-S300:case:failed_attempt:close',
      );
      await crm.closeCase(
        caseId,
        'Delivered on the second attempt.',
        'shipment-S300:case:failed_attempt:close',
      );
      const ticket = await api(sandbox.url, 'GET', `/api/v2/tickets/${caseId}.json`);
      expect(ticket.body.ticket.status).toBe('solved');
      const comments = await api(sandbox.url, 'GET', `/api/v2/tickets/${caseId}/comments.json`);
      expect((comments.body.comments as Json[]).map((c) => [c.body, c.public])).toEqual([
        ['Recipient absent; reattempt planned.', false],
        ['Delivered on the second attempt.', false],
      ]);
      expect(await effects('ticket_solved', 'shipment-S300:case:failed_attempt:close')).toEqual([
        expect.objectContaining({ count: 1, entityId: caseId }),
      ]);
    });

    it.each(['999999', 'not-a-ticket'])(
      'when case %s does not exist then closing it is CRM_TICKET_NOT_FOUND',
      async (id) => {
        const err = await expectCode(crm.closeCase(id, 'x', `close-${id}`), 'CRM_TICKET_NOT_FOUND');
        expect(err.retryable).toBe(false);
      },
    );
  });

  describe('replyOnTicket and raiseCasePriority', () => {
    it('when a customer is answered twice with one key then the ticket holds one public reply, keyed in its metadata', async () => {
      const { caseId } = await crm.openCase(caseInput('shipment-R100'));
      const reply = {
        ticketId: caseId,
        message: 'We could not move delivery R100: it is already on its way.',
        idempotencyKey: 'shipment-R100:reply:1',
      };
      await crm.replyOnTicket({ ...reply, firstTry: true });
      await crm.replyOnTicket(reply);
      const comments = await api(sandbox.url, 'GET', `/api/v2/tickets/${caseId}/comments.json`);
      const replies = (comments.body.comments as Json[]).filter((c) => c.body === reply.message);
      expect(replies.map((c) => [c.public, c.metadata.custom[KEY_METADATA_KEY]])).toEqual([
        [true, 'shipment-R100:reply:1'],
      ]);
      await expectCode(
        crm.replyOnTicket({ ...reply, ticketId: '999999', idempotencyKey: 'shipment-R100:reply:2' }),
        'CRM_TICKET_NOT_FOUND',
      );
    });

    it('when a case passes its SLA then its priority is raised once with an internal note; a solved case is left alone', async () => {
      const { caseId } = await crm.openCase(caseInput('shipment-R200'));
      const raise = {
        caseId,
        priority: 'urgent' as const,
        note: 'Open past its 240-minute resolution SLA.',
        idempotencyKey: 'shipment-R200:case-priority:urgent',
      };
      await crm.raiseCasePriority(raise);
      await crm.raiseCasePriority(raise);
      const ticket = await api(sandbox.url, 'GET', `/api/v2/tickets/${caseId}.json`);
      expect(ticket.body.ticket.priority).toBe('urgent');
      const comments = await api(sandbox.url, 'GET', `/api/v2/tickets/${caseId}/comments.json`);
      expect(
        (comments.body.comments as Json[]).filter((c) => c.body === raise.note).map((c) => c.public),
      ).toEqual([false]);
      const solved = await crm.openCase(caseInput('shipment-R201', { priority: 'normal' }));
      await crm.closeCase(solved.caseId, 'Done.', 'shipment-R201:close');
      await crm.raiseCasePriority({ ...raise, caseId: solved.caseId });
      const after = await api(sandbox.url, 'GET', `/api/v2/tickets/${solved.caseId}.json`);
      expect([after.body.ticket.status, after.body.ticket.priority]).toEqual(['solved', 'normal']);
    });
  });

  describe('failures', () => {
    it('when Zendesk is in a 429 storm then the adapter raises CRM_RATE_LIMITED with the Retry-After wait', async () => {
      await api(sandbox.url, 'POST', '/__sandbox/faults', { rateLimitStormUntilMs: Date.now() + 20_000 });
      const raw = await api(sandbox.url, 'GET', '/api/v2/tickets/1.json');
      expect(raw.status).toBe(429);
      expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(raw.body.error).toBe('APIRateLimitExceeded');
      const err = await expectCode(crm.openCase(caseInput('shipment-F400')), 'CRM_RATE_LIMITED');
      expect(err.retryable).toBe(true);
      expect(err.details.retryAfterMs).toBeGreaterThanOrEqual(1000);
      expect(err.details.retryAfterMs).toBeLessThanOrEqual(20_000);
    });

    it('when Zendesk is in an outage then the adapter raises CRM_UNAVAILABLE, and recovers after it', async () => {
      await api(sandbox.url, 'POST', '/__sandbox/faults', { outageUntilMs: Date.now() + 60_000 });
      const raw = await api(sandbox.url, 'GET', '/api/v2/tickets/1.json');
      expect(raw.status).toBe(503);
      expect(raw.body.error).toBe('ServiceUnavailable');
      const err = await expectCode(crm.openCase(caseInput('shipment-F401')), 'CRM_UNAVAILABLE');
      expect(err.retryable).toBe(true);
      await api(sandbox.url, 'POST', '/__sandbox/faults', { outageUntilMs: 0 });
      expect((await crm.openCase(caseInput('shipment-F401'))).caseId).toMatch(/^\d+$/);
    });

    it('when Zendesk answers slower than the timeout then the adapter raises CRM_UNAVAILABLE', async () => {
      await api(sandbox.url, 'POST', '/__sandbox/faults', { latencyMs: 400 });
      const impatient = createCrmAdapter({ baseUrl: sandbox.url, token: 'bearer-token', timeoutMs: 50 });
      await expectCode(impatient.closeCase('1', 'x', 'k'), 'CRM_UNAVAILABLE');
    });

    it('when nothing listens at the base URL then the adapter raises CRM_UNAVAILABLE', async () => {
      const nowhere = createCrmAdapter({ baseUrl: `http://127.0.0.1:${await freePort()}`, timeoutMs: 2000 });
      await expectCode(nowhere.openCase(caseInput('shipment-F402')), 'CRM_UNAVAILABLE');
    });

    it('when a request has no credentials then Zendesk answers 401', async () => {
      const res = await fetch(`${sandbox.url}/api/v2/tickets.json`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "Couldn't authenticate you" });
    });

    it('when only a bearer token is configured then the adapter authenticates with it', async () => {
      const bearer = createCrmAdapter({ baseUrl: sandbox.url, token: 'oauth-access-token' });
      expect((await bearer.openCase(caseInput('shipment-F403'))).caseId).toMatch(/^\d+$/);
    });
  });

  describe('listing and search', () => {
    beforeAll(async () => {
      for (let i = 1; i <= 5; i++) {
        await api(sandbox.url, 'POST', '/api/v2/tickets.json', {
          ticket: {
            subject: `Listed ${i}`,
            comment: { body: `Body ${i}` },
            external_id: 'shipment-L500',
            status: 'open',
          },
        });
      }
    });

    it('when tickets are listed two at a time then links.next walks all of them and has_more ends false', async () => {
      const ids: number[] = [];
      let path: string | null = '/api/v2/tickets.json?external_id=shipment-L500&page[size]=2';
      let last: Json;
      while (path) {
        last = (await api(sandbox.url, 'GET', path)).body;
        ids.push(...(last.tickets as Json[]).map((t) => t.id as number));
        path = last.meta.has_more ? (last.links.next as string).replace(sandbox.url, '') : null;
      }
      expect(ids).toHaveLength(5);
      expect(new Set(ids).size).toBe(5);
      expect(last.meta.has_more).toBe(false);
    });

    it('when tickets are listed by offset then next_page and count follow Zendesk', async () => {
      const page = await api(sandbox.url, 'GET', '/api/v2/tickets.json?external_id=shipment-L500&per_page=2');
      expect(page.body.count).toBe(5);
      expect(page.body.tickets).toHaveLength(2);
      expect(page.body.next_page).toContain('page=2');
      expect(page.body.previous_page).toBeNull();
    });

    it('when searching external_id and type:ticket then the shipment tickets come back as results', async () => {
      const q = encodeURIComponent('external_id:shipment-L500 type:ticket');
      const found = await api(sandbox.url, 'GET', `/api/v2/search.json?query=${q}`);
      expect(found.status).toBe(200);
      expect(found.body.count).toBe(5);
      expect(
        (found.body.results as Json[]).every(
          (r) => r.result_type === 'ticket' && r.external_id === 'shipment-L500',
        ),
      ).toBe(true);
      const none = await api(
        sandbox.url,
        'GET',
        `/api/v2/search.json?query=${encodeURIComponent('external_id:shipment-L500 type:user')}`,
      );
      expect(none.body.count).toBe(0);
    });

    it('when a page size is out of range then Zendesk answers 400', async () => {
      const res = await api(sandbox.url, 'GET', '/api/v2/tickets.json?page[size]=500');
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('InvalidPaginationParameter');
    });
  });
});

describe('Zendesk sandbox limits', () => {
  it('when the minute budget is spent then 429 with Retry-After follows and the adapter raises CRM_RATE_LIMITED', async () => {
    const sandbox = await startCrmSandbox({ rateLimitPerMinute: 3 });
    try {
      const first = await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      expect(first.headers.get('x-rate-limit')).toBe('3');
      expect(first.headers.get('x-rate-limit-remaining')).toBe('2');
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      const limited = await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      expect(limited.status).toBe(429);
      const wait = Number(limited.headers.get('retry-after'));
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(60);
      const crm = createCrmAdapter({ baseUrl: sandbox.url });
      const err = await expectCode(crm.closeCase('1', 'x', 'k'), 'CRM_RATE_LIMITED');
      expect(err.details.retryAfterMs).toBe(wait * 1000);
    } finally {
      await sandbox.close();
    }
  });

  it('when the adapter is paced at the plan limit then requests past the window wait their turn instead of drawing 429s', async () => {
    const sandbox = await startCrmSandbox({ rateLimitPerMinute: 20 });
    try {
      const { caseId } = await createCrmAdapter({ baseUrl: sandbox.url }).openCase(
        caseInput('shipment-P500'),
      );
      await createCrmAdapter({ baseUrl: sandbox.url }).closeCase(caseId, 'done', 'p500-close');
      // 20 a minute: two per rolling six seconds. Closing a solved case is one GET; without bulk calls each
      // close reads on its own (concurrent closes would share one show_many).
      const paced = createCrmAdapter({
        baseUrl: sandbox.url,
        requestsPerMinute: 20,
        bulk: { maxItems: 1, windowMs: 0 },
      });
      const t0 = Date.now();
      const finished = await Promise.all(
        [1, 2, 3, 4].map(async (n) => {
          await paced.closeCase(caseId, 'done', `p500-close-${n}`);
          return Date.now() - t0;
        }),
      );
      finished.sort((a, b) => a - b);
      expect(finished[1]).toBeLessThan(3_000);
      expect(finished[2]).toBeGreaterThanOrEqual(5_900);
      const budget = await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      expect(budget.status).toBe(200);
    } finally {
      await sandbox.close();
    }
  }, 30_000);

  it('when another client spent the budget then after one 429 the adapter sends nothing until Retry-After has passed', async () => {
    // The sandbox's minute is 59 s old, so its Retry-After is 1 s.
    let now = Date.parse('2026-12-01T08:00:00Z');
    const sandbox = await startCrmSandbox({ rateLimitPerMinute: 2, clock: () => now });
    try {
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      now += 59_000;
      await api(sandbox.url, 'GET', '/api/v2/tickets.json');
      const crm = createCrmAdapter({ baseUrl: sandbox.url, requestsPerMinute: 600 });
      const err = await expectCode(crm.openCase(caseInput('shipment-P501')), 'CRM_RATE_LIMITED');
      expect(err.details.retryAfterMs).toBe(1_000);
      const t0 = Date.now();
      now += 1_000;
      const { caseId } = await crm.openCase(caseInput('shipment-P501'));
      expect(Number(caseId)).toBeGreaterThan(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    } finally {
      await sandbox.close();
    }
  });

  it('when Zendesk forgot the idempotency key after 2 h then a replayed openCase still finds its case', async () => {
    let now = Date.parse('2026-12-01T08:00:00Z');
    const sandbox = await startCrmSandbox({ clock: () => now });
    try {
      const crm = createCrmAdapter({ baseUrl: sandbox.url });
      const input = caseInput('shipment-T600');
      const { caseId } = await crm.openCase(input);
      now += IDEMPOTENCY_TTL_MS + 60_000;
      expect((await crm.openCase(input)).caseId).toBe(caseId);
      const created = await api(sandbox.url, 'GET', '/__sandbox/effects?kind=ticket_created');
      expect(created.body.effects).toEqual([
        expect.objectContaining({ key: input.idempotencyKey, count: 1 }),
      ]);
      const raw = await api(
        sandbox.url,
        'POST',
        '/api/v2/tickets.json',
        { ticket: { comment: { body: 'x' } } },
        {
          'idempotency-key': input.idempotencyKey,
        },
      );
      expect(raw.headers.get('x-idempotency-lookup')).toBe('miss');
    } finally {
      await sandbox.close();
    }
  });
});
