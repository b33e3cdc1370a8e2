import { status as grpcStatus } from '@grpc/grpc-js';
import { ServiceError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState, WorkflowNotFoundError } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { visibilityQuery } from '../../../src/gateway/api-routes.js';
import { dispatchDialect, erpDialect, crmDialect } from '../../../src/gateway/dialects.js';
import { keptHeaders } from '../../../src/gateway/intake.js';
import {
  classifyTemporalError,
  isTemporalUnavailable,
  isWorkflowNotFound,
  normalizeShipmentId,
  rejectionOf,
  toApiError,
} from '../../../src/gateway/temporal.js';
import { signZendeskWebhook } from '../../../src/integrations/crm/signature.js';
import { signOnfleetWebhook } from '../../../src/integrations/dispatch/signature.js';
import { loadConfig, secret } from '../../../src/platform/config.js';
import { sampleOrder } from '../../support/fixtures.js';
import { deliveryFromOrder } from '../../../src/integrations/erp/mappers.js';

const config = loadConfig({ SHIPSYNC_ENV: 'sandbox' });

describe('listen address', () => {
  it('when no host is configured then the gateway listens on loopback only, and a malformed host is refused with its key', () => {
    expect(loadConfig({ SHIPSYNC_ENV: 'sandbox' }).SHIPSYNC_GATEWAY_HOST).toBe('127.0.0.1');
    expect(
      loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_GATEWAY_HOST: '0.0.0.0' }).SHIPSYNC_GATEWAY_HOST,
    ).toBe('0.0.0.0');
    expect(loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_GATEWAY_HOST: '::1' }).SHIPSYNC_GATEWAY_HOST).toBe(
      '::1',
    );
    expect(() => loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_GATEWAY_HOST: 'http://x y' })).toThrow(
      /SHIPSYNC_GATEWAY_HOST/,
    );
  });
});

describe('shipment ids', () => {
  it.each([
    ['shipment-80000001', 'shipment-80000001'],
    ['80000001', 'shipment-80000001'],
    ['T1A2B-3', 'shipment-T1A2B-3'],
    ['shipment-', undefined],
    ['shipment-abc', undefined],
    ["80000001' OR 1=1", undefined],
    ['x'.repeat(21), undefined],
  ])('when the id is %s then the workflow id is %s', (id, expected) => {
    expect(normalizeShipmentId(id)).toBe(expected);
  });
});

describe('list query', () => {
  it('when filters are given then each becomes a quoted clause on its search attribute', () => {
    expect(visibilityQuery({})).toBe("WorkflowType = 'ShipmentWorkflow'");
    expect(visibilityQuery({ status: 'in_transit', region: 'CHI', exception: 'delay' })).toBe(
      "WorkflowType = 'ShipmentWorkflow' AND ShipmentStatus = 'in_transit' AND Region = 'CHI' AND OpenException = 'delay'",
    );
    expect(visibilityQuery({ exception: 'any' })).toBe(
      "WorkflowType = 'ShipmentWorkflow' AND OpenException != 'none'",
    );
  });

  it('when a value could break out of its quotes then it is refused even if the schema let it through', () => {
    expect(() => visibilityQuery({ region: "CHI' OR 'a'='a" })).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });
});

describe('Temporal errors', () => {
  it('when an update is rejected with a typed failure then its code and message come back', async () => {
    const err = new WorkflowUpdateFailedError(
      'update failed',
      ApplicationFailure.create({ type: 'RESCHEDULE_TOO_LATE', message: 'shipment is in_transit' }),
    );
    expect(rejectionOf(err)).toEqual({ code: 'RESCHEDULE_TOO_LATE', message: 'shipment is in_transit' });
    expect((await toApiError(err, 'shipment-1'))?.status).toBe(409);
    const untyped = new WorkflowUpdateFailedError(
      'update failed',
      ApplicationFailure.create({ type: 'SomethingElse', message: 'x' }),
    );
    // No business reason: a 503 to retry, so an Idempotency-Key never keeps it.
    expect(rejectionOf(untyped).code).toBe('UPDATE_FAILED');
    expect((await toApiError(untyped, 'shipment-1'))?.status).toBe(503);
  });

  it('when an update failed in an activity then the vendor code below the activity failure comes back', async () => {
    const rejected = ApplicationFailure.create({
      type: 'DISPATCH_REJECTED',
      message: 'window outside shift',
    });
    const activity = new ActivityFailure(
      'Activity task failed',
      'dispatchRescheduleTask',
      '7',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      rejected,
    );
    const err = new WorkflowUpdateFailedError('update failed', activity);
    expect(rejectionOf(err)).toEqual({ code: 'DISPATCH_REJECTED', message: 'window outside shift' });
    expect((await toApiError(err, 'shipment-1'))?.status).toBe(422);
    const outage = new WorkflowUpdateFailedError(
      'update failed',
      new ActivityFailure(
        'Activity task failed',
        'dispatchRescheduleTask',
        '8',
        RetryState.TIMEOUT,
        undefined,
      ),
    );
    expect((await toApiError(outage, 'shipment-1'))?.status).toBe(503);
  });

  const grpcError = (code: number, details: string) =>
    Object.assign(new Error(`${code} ${grpcStatus[code]}: ${details}`), { code, details, metadata: {} });

  it('when the workflow is missing or Temporal is down then the API answers 404 or 503', async () => {
    const missing = new WorkflowNotFoundError('not found', 'shipment-1', undefined);
    expect(isWorkflowNotFound(missing)).toBe(true);
    expect((await toApiError(missing, 'shipment-1'))?.body()).toMatchObject({ code: 'SHIPMENT_NOT_FOUND' });
    const grpcDown = grpcError(grpcStatus.UNAVAILABLE, 'No connection established');
    expect(isTemporalUnavailable(grpcDown)).toBe(true);
    const down = await toApiError(grpcDown, 'shipment-1');
    expect([down?.status, down?.code, down?.extra.retryAfterSeconds]).toEqual([
      503,
      'TEMPORAL_UNAVAILABLE',
      5,
    ]);
    expect(down?.message).toMatch(/could not be reached/);
    expect(isTemporalUnavailable(new Error('some bug'))).toBe(false);
    expect(await toApiError(new Error('some bug'), 'shipment-1')).toBeUndefined();
  });

  it('when no worker polls the task queue then the answer is 503 WORKER_UNAVAILABLE with Retry-After, not a 500', async () => {
    const noPoller = grpcError(grpcStatus.FAILED_PRECONDITION, 'no poller seen for task queue recently');
    const err = await toApiError(noPoller, 'shipment-1');
    expect([err?.status, err?.code, err?.extra.retryAfterSeconds]).toEqual([503, 'WORKER_UNAVAILABLE', 5]);
    expect(err?.message).toMatch(/no poller seen/);
    const inQuery = new ServiceError('Failed to query Workflow', { cause: noPoller });
    expect((await toApiError(inQuery, 'shipment-1'))?.code).toBe('WORKER_UNAVAILABLE');
  });

  it('when a call runs out of time then Temporal answering a probe means the worker is missing, and no answer means Temporal is', async () => {
    const timeout = new ServiceError('Failed to query Workflow', {
      cause: grpcError(grpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded after 5s'),
    });
    expect(await classifyTemporalError(timeout, async () => 'described')).toMatchObject({
      kind: 'worker_unavailable',
    });
    const unreachable = await toApiError(timeout, 'shipment-1', async () => {
      throw grpcError(grpcStatus.UNAVAILABLE, 'connection refused');
    });
    expect([unreachable?.code, unreachable?.message]).toEqual([
      'TEMPORAL_UNAVAILABLE',
      'Temporal did not answer in time; retry later',
    ]);
    const busy = await classifyTemporalError(
      grpcError(grpcStatus.RESOURCE_EXHAUSTED, 'namespace rate limit'),
    );
    expect(busy).toMatchObject({
      kind: 'temporal_unavailable',
      message: expect.stringMatching(/overloaded/),
    });
    expect(await classifyTemporalError(grpcError(grpcStatus.INVALID_ARGUMENT, 'bad id'))).toMatchObject({
      kind: 'invalid',
    });
  });
});

function onfleet(trigger: string, extra: Record<string, unknown> = {}) {
  const time = 1_764_590_400_000;
  return {
    triggerId: 1,
    triggerName: trigger,
    taskId: 'tsk1',
    time,
    workerId: 'wrk-9',
    data: {
      task: {
        id: 'tsk1',
        worker: 'wrk-9',
        completeBefore: time + 3600_000,
        metadata: [
          { name: 'shipmentId', value: 'shipment-80000001' },
          { name: 'attempt', value: 1 },
        ],
        ...extra,
      },
    },
  };
}

describe('dispatch dialect', () => {
  const dialect = dispatchDialect(config, { etaDriftThresholdMinutes: 10 });
  const at = new Date().toISOString();

  it('when the ETA drifts less than the threshold then it is telemetry, and beyond it a stop.eta.v1 event', () => {
    const small = dialect.map(
      onfleet('taskEta', { estimatedArrivalTime: 1_764_590_400_000 + 3600_000 + 9 * 60_000 }),
      at,
    );
    expect(small).toMatchObject({
      kind: 'telemetry',
      sample: { driverId: 'wrk-9', shipmentId: 'shipment-80000001', taskId: 'tsk1', driftSeconds: 540 },
    });
    const large = dialect.map(
      onfleet('taskEta', { estimatedArrivalTime: 1_764_590_400_000 + 3600_000 - 11 * 60_000 }),
      at,
    );
    expect(large).toMatchObject({
      kind: 'event',
      event: { type: 'stop.eta.v1', subject: 'shipment-80000001', data: { driftSeconds: -660 } },
    });
  });

  it('when the signature is over other bytes or missing then authentication fails', () => {
    const body = Buffer.from(JSON.stringify(onfleet('taskArrival')));
    const sig = signOnfleetWebhook(secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'), body);
    expect(dialect.authenticate({ 'x-onfleet-signature': sig }, body, new Date())).toEqual({ ok: true });
    expect(
      dialect.authenticate(
        { 'x-onfleet-signature': sig },
        Buffer.concat([body, Buffer.from(' ')]),
        new Date(),
      ),
    ).toMatchObject({ ok: false, code: 'SIGNATURE_INVALID' });
    expect(dialect.authenticate({}, body, new Date())).toMatchObject({
      ok: false,
      code: 'SIGNATURE_INVALID',
    });
  });
});

describe('crm and erp dialects', () => {
  it('when a Zendesk timestamp is outside the tolerance then it is stale, inside it is accepted', () => {
    const dialect = crmDialect(config, { signatureToleranceMs: 60_000 });
    const body = Buffer.from('{"x":1}');
    const now = new Date('2026-12-01T10:00:00Z');
    const headers = (ts: string) => ({
      'x-zendesk-webhook-signature': signZendeskWebhook(
        secret(config, 'SHIPSYNC_CRM_WEBHOOK_SECRET'),
        ts,
        body,
      ),
      'x-zendesk-webhook-signature-timestamp': ts,
    });
    expect(dialect.authenticate(headers('2026-12-01T09:59:30Z'), body, now)).toEqual({ ok: true });
    expect(dialect.authenticate(headers('2026-12-01T09:58:59Z'), body, now)).toMatchObject({
      ok: false,
      code: 'SIGNATURE_STALE',
    });
  });

  it('when the same delivery is pushed twice then both map to one event id naming the shipment', () => {
    const dialect = erpDialect(config);
    const order = sampleOrder({ deliveryId: '80000042' });
    const a = dialect.map({ d: deliveryFromOrder(order) }, '2026-12-01T06:00:00.000Z');
    const b = dialect.map(deliveryFromOrder(order), '2026-12-01T06:05:00.000Z');
    expect(a).toMatchObject({
      kind: 'event',
      event: {
        id: 'erp-release-80000042',
        type: 'order.released.v1',
        subject: 'shipment-80000042',
        data: { order: { deliveryId: '80000042' } },
      },
    });
    expect(b.kind === 'event' && b.event.id).toBe('erp-release-80000042');
    expect(
      dialect.authenticate(
        { authorization: `Bearer ${secret(config, 'SHIPSYNC_ERP_WEBHOOK_TOKEN')}` },
        Buffer.alloc(0),
        new Date(),
      ),
    ).toEqual({ ok: true });
    expect(
      dialect.authenticate({ authorization: 'Bearer wrong' }, Buffer.alloc(0), new Date()),
    ).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
  });

  it('when headers are kept with an event then credentials are redacted', () => {
    expect(
      keptHeaders({
        authorization: 'Bearer secret',
        cookie: 'a=b',
        'x-onfleet-signature': 'ab',
        'x-many': ['1', '2'],
      }),
    ).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      'x-onfleet-signature': 'ab',
      'x-many': '1, 2',
    });
  });
});
