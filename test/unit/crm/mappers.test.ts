import { describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import { parseEvent } from '../../../src/domain/events.js';
import type { ExceptionKind } from '../../../src/domain/model.js';
import {
  CASE_TAG,
  DEFAULT_FIELD_IDS as F,
  KEY_METADATA_KEY,
  PLAN_METADATA_KEY,
  caseToTicketCreate,
  closeCaseUpdate,
  commentKey,
  extractPlanMarker,
  formatPlanMarker,
  noticeCommentUpdate,
  noticeThreadCreate,
  rescheduleWebhookToEvent,
  ticketToCase,
  type ZendeskTicket,
} from '../../../src/integrations/crm/mappers.js';

const plan = {
  eta: '2026-12-01T15:20:00Z',
  window: { start: '2026-12-01T14:00:00Z', end: '2026-12-01T18:00:00Z' },
};
const marker = 'shipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z';

describe('plan marker', () => {
  it('when a plan is formatted then it reads as the documented marker', () => {
    expect(formatPlanMarker(plan)).toBe(marker);
  });

  it.each([
    [
      'marker on its own line',
      `Your delivery arrives around 15:20.\n${marker}`,
      'Your delivery arrives around 15:20.',
    ],
    ['marker in brackets', `Arriving 15:20 [${marker}] thank you`, 'Arriving 15:20  thank you'],
    [
      'marker with offsets',
      'ETA soon shipsync:eta=2026-12-01T09:20:00-06:00;window=2026-12-01T08:00:00-06:00/2026-12-01T12:00:00-06:00',
      'ETA soon',
    ],
  ])('when the message has a %s then the text loses it and the plan is read', (_name, message, text) => {
    const out = extractPlanMarker(message);
    expect(out.text).toBe(text);
    expect(out.plan).toBeDefined();
    expect(Date.parse(out.plan?.window.end ?? '')).toBeGreaterThan(Date.parse(out.plan?.window.start ?? ''));
  });

  it.each([
    ['no marker', 'Your delivery is planned for Tuesday.'],
    [
      'window ending before it starts',
      'x shipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T18:00:00Z/2026-12-01T14:00:00Z',
    ],
    ['eta that is not a time', 'x shipsync:eta=soon;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z'],
  ])('when the message has %s then no plan is read and the text is kept', (_name, message) => {
    const out = extractPlanMarker(message);
    expect(out.plan).toBeUndefined();
    expect(out.text).toBe(message.trim());
  });
});

describe('case to ticket', () => {
  it.each<ExceptionKind>([
    'failed_attempt',
    'delay',
    'damage',
    'address_mismatch',
    'missing_pod',
    'no_assignment',
  ])('when a %s case is opened then the ticket carries the shipment, kind tag, fields and key', (kind) => {
    const body = caseToTicketCreate({
      shipmentId: 'shipment-80000001',
      deliveryId: '80000001',
      customerId: 'C1001',
      kind,
      subject: `Exception ${kind}`,
      description: 'Driver could not deliver',
      priority: 'high',
      idempotencyKey: `shipment-80000001:case:${kind}:1`,
    });
    expect(body.ticket.external_id).toBe('shipment-80000001');
    expect(body.ticket.tags).toEqual([CASE_TAG, `shipsync_kind_${kind}`]);
    expect(body.ticket.priority).toBe('high');
    expect(body.ticket.comment).toEqual({ body: 'Driver could not deliver', public: false });
    expect(body.ticket.custom_fields).toContainEqual({ id: F.caseKind, value: kind });
    expect(body.ticket.custom_fields).toContainEqual({
      id: F.idempotencyKey,
      value: `shipment-80000001:case:${kind}:1`,
    });
    expect(body.ticket.metadata[KEY_METADATA_KEY]).toBe(`shipment-80000001:case:${kind}:1`);
  });

  it('when the description is blank then the subject becomes the first comment', () => {
    const body = caseToTicketCreate({
      shipmentId: 's',
      deliveryId: 'd',
      customerId: 'c',
      kind: 'delay',
      subject: 'Late',
      description: '  ',
      priority: 'normal',
      idempotencyKey: 'k',
    });
    expect(body.ticket.comment.body).toBe('Late');
  });
});

describe('notices', () => {
  const base = {
    shipmentId: 'shipment-1',
    deliveryId: '1',
    customerId: 'C1',
    idempotencyKey: 'shipment-1:notice:planned',
  };

  it.each([
    ['a plan field', { message: 'Arriving at 15:20.', plan }, 'Arriving at 15:20.', marker],
    ['a marker in the text', { message: `Arriving at 15:20.\n${marker}` }, 'Arriving at 15:20.', marker],
    ['no plan', { message: 'We are sorry for the delay.' }, 'We are sorry for the delay.', undefined],
  ])(
    'when a notice has %s then a public comment carries the key and the plan metadata',
    (_n, extra, body, plan) => {
      const update = noticeCommentUpdate({ ...base, ...extra });
      expect(update.ticket.comment).toEqual({ body, public: true });
      expect(update.ticket.metadata[KEY_METADATA_KEY]).toBe(base.idempotencyKey);
      expect((update.ticket.metadata as Record<string, unknown>)[PLAN_METADATA_KEY]).toBe(plan);
    },
  );

  it('when the notice thread is created twice then both bodies are identical, so its key replays', () => {
    expect(noticeThreadCreate(base)).toEqual(noticeThreadCreate({ ...base }));
    expect(noticeThreadCreate(base).ticket.external_id).toBe('shipment-1');
    expect(noticeThreadCreate(base).ticket.comment.public).toBe(false);
  });

  it.each([
    [{ id: 1, body: 'x', public: true, metadata: { custom: { [KEY_METADATA_KEY]: 'k1' } } }, 'k1'],
    [{ id: 2, body: 'x', public: true, metadata: { custom: {} } }, undefined],
    [{ id: 3, body: 'x', public: true, metadata: null }, undefined],
    [{ id: 4, body: 'x', public: true }, undefined],
  ])('when a comment has metadata %j then its key is %s', (comment, key) => {
    expect(commentKey(comment)).toBe(key);
  });

  it('when a case is closed then the update solves it with an internal comment and the key', () => {
    expect(closeCaseUpdate('Redelivered', 'k')).toEqual({
      ticket: {
        status: 'solved',
        comment: { body: 'Redelivered', public: false },
        metadata: { [KEY_METADATA_KEY]: 'k' },
      },
    });
  });
});

describe('ticket to case', () => {
  const ticket = (over: Partial<ZendeskTicket>): ZendeskTicket => ({
    id: 42,
    external_id: 'shipment-7',
    subject: 'Failed attempt',
    description: 'Nobody home',
    status: 'open',
    priority: 'high',
    tags: [CASE_TAG, 'shipsync_kind_failed_attempt'],
    custom_fields: [{ id: F.caseKind, value: 'failed_attempt' }],
    ...over,
  });

  it.each([
    ['an open case', {}, { status: 'open', kind: 'failed_attempt', priority: 'high' }],
    ['a case on hold', { status: 'hold' as const }, { status: 'pending' }],
    ['a case with no kind field', { custom_fields: [] }, { kind: 'failed_attempt' }],
    ['a case with no priority', { priority: null }, { priority: 'normal' }],
    ['a solved case', { status: 'solved' as const }, { status: 'solved' }],
  ])('when the ticket is %s then the canonical case follows', (_n, over, expected) => {
    const c = ticketToCase(ticket(over));
    expect(c).toMatchObject({ caseId: '42', shipmentId: 'shipment-7', ...expected });
  });

  it.each([
    ['not a case', { tags: ['shipsync_notifications'] }],
    ['a case with no kind at all', { tags: [CASE_TAG], custom_fields: [] }],
    ['a case with no shipment', { external_id: null }],
  ])('when the ticket is %s then there is no canonical case', (_n, over) => {
    expect(ticketToCase(ticket(over))).toBeUndefined();
  });
});

describe('reschedule webhook to canonical event', () => {
  const webhook = {
    type: 'zen:event-type:ticket.reschedule_requested',
    account_id: 1,
    id: '5f1c2b4e-8a7d-4c3b-9e21-0a6b7c8d9e10',
    time: '2026-12-01T16:02:11Z',
    zendesk_event_version: '2022-11-06',
    subject: 'zen:ticket:12',
    detail: { id: '12', external_id: 'shipment-80000001' },
    event: { requested_window: { start: '2026-12-02T14:00:00Z', end: '2026-12-02T18:00:00Z' } },
  };

  it('when a reschedule webhook arrives then it maps to a valid reschedule.requested.v1 event', () => {
    const event = rescheduleWebhookToEvent(webhook);
    expect(event).toMatchObject({
      id: `zendesk-${webhook.id}`,
      type: 'reschedule.requested.v1',
      subject: 'shipment-80000001',
      correlationid: 'shipment-80000001',
      time: webhook.time,
      data: { window: webhook.event.requested_window, requestedBy: 'customer', ticketId: '12' },
    });
    expect(parseEvent(event)).toEqual(event);
  });

  it('when the same webhook is delivered twice then both map to the same event id', () => {
    expect(rescheduleWebhookToEvent(structuredClone(webhook)).id).toBe(rescheduleWebhookToEvent(webhook).id);
  });

  it('when the ticket id is a number then it still maps, as a string', () => {
    expect(
      rescheduleWebhookToEvent({ ...webhook, detail: { ...webhook.detail, id: 12 } }).data.ticketId,
    ).toBe('12');
  });

  it.each([
    ['another event type', { ...webhook, type: 'zen:event-type:ticket.created' }, 'type'],
    ['no shipment', { ...webhook, detail: { id: '12' } }, 'detail.external_id'],
    [
      'a reversed window',
      {
        ...webhook,
        event: { requested_window: { start: '2026-12-02T18:00:00Z', end: '2026-12-02T14:00:00Z' } },
      },
      'event.requested_window.end',
    ],
    ['a time without offset', { ...webhook, time: '2026-12-01 16:02' }, 'time'],
    ['no event id', { ...webhook, id: '' }, 'id'],
  ])('when the webhook has %s then EVENT_SCHEMA_INVALID names %s', (_n, body, field) => {
    let thrown: unknown;
    try {
      rescheduleWebhookToEvent(body);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ShipsyncError);
    expect((thrown as ShipsyncError).code).toBe('EVENT_SCHEMA_INVALID');
    expect((thrown as ShipsyncError).details.field).toBe(field);
  });
});
