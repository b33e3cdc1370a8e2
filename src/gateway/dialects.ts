import type { IncomingHttpHeaders } from 'node:http';
import { ShipsyncError } from '../domain/errors.js';
import { parseEvent, type CanonicalEvent } from '../domain/events.js';
import { rescheduleWebhookToEvent } from '../integrations/crm/mappers.js';
import {
  DEFAULT_SIGNATURE_TOLERANCE_MS,
  verifyZendeskWebhook,
  ZENDESK_SIGNATURE_HEADER,
  ZENDESK_SIGNATURE_TIMESTAMP_HEADER,
} from '../integrations/crm/signature.js';
import { onfleetWebhookToCanonical } from '../integrations/dispatch/mappers.js';
import { verifyOnfleetWebhook } from '../integrations/dispatch/signature.js';
import { orderFromDelivery } from '../integrations/erp/mappers.js';
import { secret, type Config } from '../platform/config.js';
import type { EventSource, TelemetryPosition } from '../storage/store.js';
import { shipmentWorkflowId } from '../workflows/shipment/contract.js';
import { bearerToken, secretsEqual } from './auth.js';
import type { GatewayErrorCode } from './errors.js';

/** Header carrying the Onfleet webhook signature. */
export const ONFLEET_SIGNATURE_HEADER = 'x-onfleet-signature';

/** The outcome of checking who sent a webhook. */
export type Authentication = { ok: true } | { ok: false; code: GatewayErrorCode; message: string };

/** What a webhook body means once mapped. */
export type MappedWebhook =
  | { kind: 'event'; event: CanonicalEvent }
  | { kind: 'telemetry'; sample: TelemetryPosition }
  | { kind: 'ignored'; reason: string };

/** One vendor dialect of incoming webhooks: how to authenticate it and how to read it. */
export interface WebhookDialect {
  source: EventSource;
  /** Checks the signature or token against the exact raw body. */
  authenticate(headers: IncomingHttpHeaders, rawBody: Buffer, now: Date): Authentication;
  /** Maps a parsed body to canonical terms; throws ShipsyncError naming the field when it cannot. */
  map(body: unknown, receivedAt: string): MappedWebhook;
}

/** Settings of the dialects beyond the shared configuration. */
export interface DialectOptions {
  /** How far a Zendesk signature timestamp may lie from our clock. */
  signatureToleranceMs?: number;
  /** ETA changes smaller than this (simulated minutes) are telemetry, larger ones a milestone. */
  etaDriftThresholdMinutes?: number;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The shipment and task a (validated) Onfleet payload is about, for telemetry rows. */
function taskRefOf(body: unknown): { shipmentId?: string; taskId?: string } {
  const p = body as {
    taskId?: unknown;
    data?: { task?: { id?: unknown; metadata?: { name?: unknown; value?: unknown }[] } };
  };
  const taskId =
    typeof p.taskId === 'string'
      ? p.taskId
      : typeof p.data?.task?.id === 'string'
        ? p.data.task.id
        : undefined;
  const shipmentId = p.data?.task?.metadata?.find((m) => m.name === 'shipmentId')?.value;
  return { ...(typeof shipmentId === 'string' ? { shipmentId } : {}), ...(taskId ? { taskId } : {}) };
}

/**
 * Onfleet (dispatch): `X-Onfleet-Signature` is the hex HMAC-SHA512 of the raw body. ETA updates whose
 * drift is under the threshold (with the driver's position when the ping has one) become telemetry; a
 * larger drift stays a `stop.eta.v1` milestone.
 */
export function dispatchDialect(config: Config, opts: DialectOptions = {}): WebhookDialect {
  const thresholdSeconds = (opts.etaDriftThresholdMinutes ?? 10) * 60;
  const webhookSecret = secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET');
  return {
    source: 'dispatch',
    authenticate(headers, rawBody) {
      const ok = verifyOnfleetWebhook({
        secret: webhookSecret,
        signature: headers[ONFLEET_SIGNATURE_HEADER],
        rawBody,
      });
      return ok
        ? { ok: true }
        : { ok: false, code: 'SIGNATURE_INVALID', message: 'X-Onfleet-Signature does not match the body' };
    },
    map(body, receivedAt) {
      const mapped = onfleetWebhookToCanonical(body, receivedAt, { telemetryBelowSeconds: thresholdSeconds });
      if (mapped.kind === 'ignored') return mapped;
      if (mapped.kind === 'telemetry') {
        return {
          kind: 'telemetry',
          sample: {
            driverId: mapped.driverId,
            ...taskRefOf(body),
            lat: mapped.location.lat,
            lng: mapped.location.lng,
            ...(mapped.driftSeconds !== undefined ? { driftSeconds: mapped.driftSeconds } : {}),
            at: mapped.at,
          },
        };
      }
      const event = mapped.event;
      // The mapper keeps a small drift as an event when the ping names no driver or position; it is still telemetry.
      if (event.type === 'stop.eta.v1' && Math.abs(event.data.driftSeconds) < thresholdSeconds) {
        const driverId = (body as { workerId?: unknown } | null)?.workerId;
        return {
          kind: 'telemetry',
          sample: {
            driverId: typeof driverId === 'string' && driverId ? driverId : 'unassigned',
            shipmentId: event.subject,
            taskId: event.data.taskId,
            driftSeconds: event.data.driftSeconds,
            at: event.time,
          },
        };
      }
      return { kind: 'event', event };
    },
  };
}

/**
 * Zendesk (CRM): `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(timestamp + body)) with the timestamp
 * in `X-Zendesk-Webhook-Signature-Timestamp`; a timestamp outside the tolerance is a replay.
 */
export function crmDialect(config: Config, opts: DialectOptions = {}): WebhookDialect {
  const webhookSecret = secret(config, 'SHIPSYNC_CRM_WEBHOOK_SECRET');
  return {
    source: 'crm',
    authenticate(headers, rawBody, now) {
      const check = verifyZendeskWebhook({
        secret: webhookSecret,
        signature: header(headers, ZENDESK_SIGNATURE_HEADER),
        timestamp: header(headers, ZENDESK_SIGNATURE_TIMESTAMP_HEADER),
        rawBody,
        toleranceMs: opts.signatureToleranceMs ?? DEFAULT_SIGNATURE_TOLERANCE_MS,
        now: now.getTime(),
      });
      if (check.ok) return check;
      return {
        ok: false,
        code: check.code,
        message:
          check.code === 'SIGNATURE_STALE'
            ? 'X-Zendesk-Webhook-Signature-Timestamp is outside the tolerance window'
            : 'X-Zendesk-Webhook-Signature does not match the timestamp and body',
      };
    },
    map(body) {
      return { kind: 'event', event: rescheduleWebhookToEvent(body) };
    },
  };
}

/** Source attribute of canonical events built from the ERP's release push. */
export const ERP_EVENT_SOURCE = 'erp/API_OUTBOUND_DELIVERY_SRV';

/**
 * SAP S/4HANA (ERP) release push: the OData outbound delivery header JSON with
 * `Authorization: Bearer <token>`. Becomes `order.released.v1` with an id derived from the delivery id,
 * so a repeated push of one delivery is a duplicate.
 */
export function erpDialect(config: Config): WebhookDialect {
  const pushToken = secret(config, 'SHIPSYNC_ERP_WEBHOOK_TOKEN');
  return {
    source: 'erp',
    authenticate(headers) {
      const token = bearerToken(headers.authorization);
      if (!token)
        return { ok: false, code: 'UNAUTHENTICATED', message: 'send Authorization: Bearer <token>' };
      return secretsEqual(token, pushToken)
        ? { ok: true }
        : { ok: false, code: 'UNAUTHENTICATED', message: 'unknown bearer token' };
    },
    map(body, receivedAt) {
      const order = orderFromDelivery(body);
      const subject = shipmentWorkflowId(order.deliveryId);
      return {
        kind: 'event',
        event: parseEvent({
          specversion: '1.0',
          id: `erp-release-${order.deliveryId}`,
          source: ERP_EVENT_SOURCE,
          subject,
          type: 'order.released.v1',
          time: receivedAt,
          datacontenttype: 'application/json',
          correlationid: subject,
          data: { order },
        }),
      };
    },
  };
}

/** The three dialects by source. */
export function allDialects(config: Config, opts: DialectOptions = {}): Record<EventSource, WebhookDialect> {
  return { dispatch: dispatchDialect(config, opts), crm: crmDialect(config, opts), erp: erpDialect(config) };
}

/** True for errors a mapper raises about its input (as opposed to a bug). */
export function isInputError(err: unknown): err is ShipsyncError {
  return (
    err instanceof ShipsyncError && (err.code === 'EVENT_SCHEMA_INVALID' || err.code === 'VALIDATION_FAILED')
  );
}
