import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { FailureReason } from '../../../src/domain/events.js';
import type { Job } from '../../../src/domain/model.js';
import {
  FAILURE_REASON_TO_ONFLEET,
  addressToOnfleet,
  failureReasonFromOnfleet,
  jobToOnfleetTask,
  onfleetEventId,
  onfleetWebhookToCanonical,
  toE164,
} from '../../../src/integrations/dispatch/mappers.js';

const RECEIVED = '2026-12-01T15:00:05.000Z';
const T = Date.parse('2026-12-01T15:00:00.000Z');

function job(overrides: Partial<Job> = {}): Job {
  return {
    shipmentId: 'shipment-80000001',
    deliveryId: '80000001',
    attempt: 1,
    region: 'CHI',
    location: { lat: 41.8789, lng: -87.6359 },
    address: { street: '233 S Wacker Dr', city: 'Chicago', state: 'IL', postalCode: '60606', country: 'US' },
    recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
    window: { start: '2026-12-01T14:00:00Z', end: '2026-12-01T18:00:00Z' },
    quantity: 2,
    weightKg: 420,
    hazmat: false,
    serviceTimeSeconds: 540,
    instructions: 'Dock 4, call on arrival',
    requirements: ['liftgate'],
    ...overrides,
  };
}

describe('jobToOnfleetTask', () => {
  it('when a job is mapped then window, location, load, service time and shipment metadata are in Onfleet form', () => {
    const body = jobToOnfleetTask(job(), 'shipment-80000001:task:1', { teamId: 'team1' });
    expect(body).toMatchObject({
      destination: {
        address: {
          number: '233',
          street: 'S Wacker Dr',
          city: 'Chicago',
          state: 'IL',
          postalCode: '60606',
          country: 'United States',
        },
        location: [-87.6359, 41.8789],
        notes: 'Dock 4, call on arrival',
      },
      recipients: [{ name: 'Dana Whitfield', phone: '+13125550142', skipSMSNotifications: false }],
      completeAfter: Date.parse('2026-12-01T14:00:00Z'),
      completeBefore: Date.parse('2026-12-01T18:00:00Z'),
      quantity: 2,
      serviceTime: 9,
      notes: 'Dock 4, call on arrival',
      requirements: { signature: true, photo: true },
      container: { type: 'TEAM', team: 'team1' },
    });
    const meta = Object.fromEntries(body.metadata.map((m) => [m.name, [m.type, m.value]]));
    expect(meta).toEqual({
      shipmentId: ['string', 'shipment-80000001'],
      deliveryId: ['string', '80000001'],
      attempt: ['number', 1],
      shipsyncKey: ['string', 'shipment-80000001:task:1'],
      region: ['string', 'CHI'],
      weightKg: ['number', 420],
      hazmat: ['boolean', false],
      liftgate: ['boolean', true],
      requirements: ['array', ['liftgate']],
    });
  });

  it.each<[string, Partial<Job>, Record<string, unknown>]>([
    [
      'no phone: the name goes to recipientName',
      { recipient: { name: 'Lee' } },
      { recipientName: 'Lee', recipients: undefined },
    ],
    ['a hazmat job', { hazmat: true, requirements: ['hazmat'] }, { hazmat: true, liftgate: false }],
    ['hazmat only as a requirement', { hazmat: false, requirements: ['hazmat'] }, { hazmat: true }],
    ['a fractional service time', { serviceTimeSeconds: 450 }, { serviceTime: 7.5 }],
    ['no instructions', { instructions: '' }, { destinationNotes: undefined }],
  ])('when %s then the body says so', (_label, overrides, expected) => {
    const body = jobToOnfleetTask(job(overrides), 'k');
    const meta = Object.fromEntries(body.metadata.map((m) => [m.name, m.value]));
    const view: Record<string, unknown> = {
      recipientName: body.recipientName,
      recipients: body.recipients,
      hazmat: meta.hazmat,
      liftgate: meta.liftgate,
      serviceTime: body.serviceTime,
      destinationNotes: body.destination.notes,
    };
    for (const [k, v] of Object.entries(expected)) expect(view[k], k).toEqual(v);
    expect(body.container).toBeUndefined();
  });

  it.each([
    ['233 S Wacker Dr', '233', 'S Wacker Dr'],
    ['47-00 33rd St', '47-00', '33rd St'],
    ['1600A Main St', '1600A', 'Main St'],
    ['One World Trade Center', '', 'One World Trade Center'],
  ])('when the street is "%s" then number is "%s" and street "%s"', (street, number, rest) => {
    const a = addressToOnfleet({ street, city: 'Chicago', state: 'IL', postalCode: '60606', country: 'US' });
    expect([a.number, a.street]).toEqual([number, rest]);
  });

  it.each([
    ['+1 312 555 0142', '+13125550142'],
    ['(312) 555-0142', '+13125550142'],
    ['+44 20 7946 0958', '+442079460958'],
    ['555-01', undefined],
    [undefined, undefined],
  ])('when the phone is %s then E.164 is %s', (phone, e164) => {
    expect(toE164(phone)).toBe(e164);
  });
});

describe('failure reasons', () => {
  it.each<[string | undefined, FailureReason]>([
    ['NOT_AVAILABLE', 'recipient_absent'],
    ['CLOSED', 'recipient_absent'],
    ['POOR_ADDRESS', 'address_not_found'],
    ['REFUSED', 'refused'],
    ['DAMAGED', 'damaged'],
    ['OTHER', 'recipient_absent'],
    ['MANAGER_OVERRIDE', 'recipient_absent'],
    [undefined, 'recipient_absent'],
  ])('when Onfleet says %s then the canonical reason is %s', (onfleet, canonical) => {
    expect(failureReasonFromOnfleet(onfleet)).toBe(canonical);
  });

  it('when a canonical reason goes to Onfleet and back then it is unchanged', () => {
    for (const [reason, onfleet] of Object.entries(FAILURE_REASON_TO_ONFLEET))
      expect(failureReasonFromOnfleet(onfleet)).toBe(reason);
  });
});

/** A webhook payload as the Onfleet sandbox sends it, trimmed to what matters. */
function payload(
  triggerName: string,
  task: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    actionContext: { type: 'WORKER', id: 'w1' },
    adminId: null,
    taskId: 't1',
    time: T,
    triggerId: 0,
    triggerName,
    workerId: 'w1',
    data: {
      task: {
        id: 't1',
        worker: 'w1',
        state: 2,
        completeAfter: Date.parse('2026-12-01T14:00:00Z'),
        completeBefore: Date.parse('2026-12-01T18:00:00Z'),
        estimatedArrivalTime: Date.parse('2026-12-01T15:30:00Z'),
        delayTime: null,
        destination: { location: [-87.6359, 41.8789] },
        metadata: [
          { name: 'shipmentId', type: 'string', value: 'shipment-80000001' },
          { name: 'attempt', type: 'number', value: 2 },
        ],
        completionDetails: { success: false, time: null, failureReason: 'NONE', lastLocation: [] },
        ...task,
      },
      worker: { id: 'w1', location: [-87.64, 41.88], vehicle: { id: 'v1' } },
    },
    ...extra,
  };
}

const completedTask = {
  state: 3,
  completionDetails: {
    success: true,
    time: T,
    notes: 'Delivered and signed for.',
    failureReason: 'NONE',
    signatureUploadId: 'sig1',
    photoUploadIds: ['p1', 'p2'],
    lastLocation: [-87.6358, 41.8788],
  },
  metadata: [
    { name: 'shipmentId', type: 'string', value: 'shipment-80000001' },
    { name: 'attempt', type: 'number', value: 2 },
    { name: 'mileageKm', type: 'number', value: 12.4 },
    { name: 'liftgate', type: 'boolean', value: true },
    { name: 'waitingMinutes', type: 'number', value: 20 },
  ],
};

describe('onfleetWebhookToCanonical', () => {
  it.each<[string, ReturnType<typeof payload>, string, Record<string, unknown>]>([
    [
      'taskAssigned',
      payload('taskAssigned', { state: 1 }),
      'route.assigned.v1',
      { taskId: 't1', attempt: 2, driverId: 'w1', vehicleId: 'v1', eta: '2026-12-01T15:30:00.000Z' },
    ],
    [
      'taskStarted',
      payload('taskStarted'),
      'stop.started.v1',
      { taskId: 't1', attempt: 2, driverId: 'w1', eta: '2026-12-01T15:30:00.000Z' },
    ],
    [
      'taskEta (drift against the window end)',
      payload('taskEta'),
      'stop.eta.v1',
      { eta: '2026-12-01T15:30:00.000Z', driftSeconds: -9000 },
    ],
    [
      'taskDelayed',
      payload('taskDelayed', { estimatedArrivalTime: Date.parse('2026-12-01T18:45:00Z'), delayTime: 2700 }),
      'delivery.delayed.v1',
      { eta: '2026-12-01T18:45:00.000Z', delaySeconds: 2700 },
    ],
    [
      'taskDelayed without delayTime',
      payload('taskDelayed', { estimatedArrivalTime: Date.parse('2026-12-01T18:10:00Z') }),
      'delivery.delayed.v1',
      { delaySeconds: 600 },
    ],
    [
      'taskArrival',
      payload('taskArrival'),
      'stop.arrived.v1',
      { arrivedAt: '2026-12-01T15:00:00.000Z', location: { lng: -87.64, lat: 41.88 } },
    ],
    [
      'taskCompleted',
      payload('taskCompleted', completedTask),
      'delivery.completed.v1',
      {
        pod: {
          deliveredAt: '2026-12-01T15:00:00.000Z',
          location: { lng: -87.6358, lat: 41.8788 },
          signatureId: 'sig1',
          photoIds: ['p1', 'p2'],
          notes: 'Delivered and signed for.',
        },
        mileageKm: 12.4,
        accessorials: { liftgate: true, waitingMinutes: 20 },
      },
    ],
    [
      'taskFailed',
      payload('taskFailed', {
        state: 3,
        completionDetails: {
          success: false,
          time: T,
          failureReason: 'POOR_ADDRESS',
          failureNotes: 'No such number',
          lastLocation: [-87.6, 41.8],
        },
        metadata: [...completedTask.metadata.filter((m) => m.name !== 'liftgate')],
      }),
      'delivery.failed.v1',
      {
        reason: 'address_not_found',
        failedAt: '2026-12-01T15:00:00.000Z',
        notes: 'No such number',
        mileageKm: 12.4,
      },
    ],
  ])('when %s arrives then it becomes the canonical event', (_label, input, type, data) => {
    const result = onfleetWebhookToCanonical(input, RECEIVED);
    expect(result.kind).toBe('event');
    if (result.kind !== 'event') return;
    expect(result.event).toMatchObject({
      specversion: '1.0',
      type,
      source: 'dispatch/onfleet',
      subject: 'shipment-80000001',
      correlationid: 'shipment-80000001',
      time: '2026-12-01T15:00:00.000Z',
      sequence: T,
      data,
    });
  });

  it('when the event id is computed then it is onf- plus the hex SHA-256 of trigger, task and time', () => {
    const result = onfleetWebhookToCanonical(payload('taskStarted'), RECEIVED);
    const expected = `onf-${createHash('sha256').update(`taskStarted|t1|${T}`).digest('hex')}`;
    expect(result.kind === 'event' && result.event.id).toBe(expected);
    expect(onfleetEventId('taskStarted', 't1', T)).toBe(expected);
    const later = onfleetWebhookToCanonical(payload('taskStarted', {}, { time: T + 1 }), RECEIVED);
    expect(later.kind === 'event' && later.event.id).not.toBe(expected);
  });

  it('when the previous ETA is known then taskEta drift is measured against it', () => {
    const result = onfleetWebhookToCanonical(payload('taskEta'), RECEIVED, {
      previousEta: '2026-12-01T15:20:00.000Z',
    });
    expect(result).toMatchObject({ kind: 'event', event: { data: { driftSeconds: 600 } } });
  });

  it.each([
    [
      'a drift under the threshold',
      900,
      {
        kind: 'telemetry',
        driverId: 'w1',
        location: { lng: -87.64, lat: 41.88 },
        driftSeconds: 600,
        at: '2026-12-01T15:00:00.000Z',
        receivedAt: RECEIVED,
      },
    ],
    ['a drift over the threshold', 300, { kind: 'event' }],
  ])('when telemetry is asked for and taskEta has %s then it is %s', (_label, threshold, expected) => {
    const result = onfleetWebhookToCanonical(payload('taskEta'), RECEIVED, {
      previousEta: '2026-12-01T15:20:00.000Z',
      telemetryBelowSeconds: threshold,
    });
    expect(result).toMatchObject(expected);
  });

  it('when taskUnassigned arrives then it becomes route.unassigned.v1 for the attempt', () => {
    const result = onfleetWebhookToCanonical(payload('taskUnassigned'), RECEIVED);
    expect(result).toMatchObject({
      kind: 'event',
      event: { type: 'route.unassigned.v1' },
    });
  });

  it.each(['taskCreated', 'taskUpdated', 'taskDeleted', 'workerDuty', 'taskCloned'])(
    'when %s arrives then it is ignored with a reason',
    (trigger) => {
      const result = onfleetWebhookToCanonical(payload(trigger), RECEIVED);
      expect(result).toMatchObject({ kind: 'ignored', reason: expect.stringContaining(trigger) });
    },
  );

  it.each<[string, unknown, string]>([
    ['not an object', 'hello', ''],
    ['no time', { ...payload('taskStarted'), time: undefined }, 'time'],
    ['a fractional time', { ...payload('taskStarted'), time: 1.5 }, 'time'],
    ['no task', { ...payload('taskStarted'), data: {} }, 'data.task'],
    [
      'no shipmentId',
      payload('taskStarted', { metadata: [{ name: 'attempt', value: 1 }] }),
      'data.task.metadata.shipmentId',
    ],
    [
      'no attempt',
      payload('taskStarted', { metadata: [{ name: 'shipmentId', value: 's1' }] }),
      'data.task.metadata.attempt',
    ],
    [
      'attempt zero',
      payload('taskStarted', {
        metadata: [
          { name: 'shipmentId', value: 's1' },
          { name: 'attempt', value: 0 },
        ],
      }),
      'data.task.metadata.attempt',
    ],
    [
      'an assignment without a worker',
      {
        ...payload('taskAssigned', { worker: null }),
        workerId: null,
        data: { task: payload('taskAssigned', { worker: null }).data.task },
      },
      'data.task.worker',
    ],
    [
      'an ETA update without an ETA',
      payload('taskEta', { estimatedArrivalTime: null }),
      'data.task.estimatedArrivalTime',
    ],
    [
      'a completion without proof of delivery',
      payload('taskCompleted', {
        ...completedTask,
        completionDetails: {
          ...completedTask.completionDetails,
          signatureUploadId: null,
          photoUploadIds: [],
        },
      }),
      'data.pod.signatureId',
    ],
    [
      'a location out of range',
      payload('taskCompleted', {
        ...completedTask,
        completionDetails: { ...completedTask.completionDetails, lastLocation: [-200, 41] },
      }),
      'data.task.completionDetails.lastLocation',
    ],
  ])('when the payload has %s then it is EVENT_SCHEMA_INVALID naming %s', (_label, input, field) => {
    let error: unknown;
    try {
      onfleetWebhookToCanonical(input, RECEIVED);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShipsyncError);
    expect((error as ShipsyncError).code).toBe('EVENT_SCHEMA_INVALID');
    expect((error as ShipsyncError).details.field ?? '').toContain(field);
  });
});
