import { onfleetEventId } from '../../src/integrations/dispatch/mappers.js';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { shipmentWorkflowId } from '../../src/workflows/shipment/contract.js';
import { WEBHOOK_TRIGGERS } from '../../sandbox/index.js';

/*
 * Malformed webhooks the campaign sends, and what the gateway must do with each kind.
 */

export type MalformedKind =
  'unknown-shipment' | 'schema-drift' | 'invalid-json' | 'bad-signature' | 'unsigned';

/** What the gateway must do with each kind: answer this status class and keep (or not) a dead letter. */
export const MALFORMED_EXPECTATION: Record<MalformedKind, { status: 200 | 400 | 401; deadLetter: boolean }> =
  {
    // Signed and readable: accepted into the inbox, then undeliverable (no such workflow), so dead-lettered.
    'unknown-shipment': { status: 200, deadLetter: true },
    // Signed but unreadable: refused with 400 and kept for inspection.
    'schema-drift': { status: 400, deadLetter: true },
    'invalid-json': { status: 400, deadLetter: true },
    // Not authenticated: refused with 401 and not kept.
    'bad-signature': { status: 401, deadLetter: false },
    unsigned: { status: 401, deadLetter: false },
  };

/** One malformed webhook to send: the exact body, its headers and how to find it among the dead letters. */
export interface MalformedWebhook {
  kind: MalformedKind;
  /** Unique text inside the body (and the Onfleet task id), fixed length so no marker contains another. */
  marker: string;
  body: string;
  headers: Record<string, string>;
  /** The canonical event id the gateway derives, for bodies it can read. */
  eventId?: string;
}

/** A malformed webhook after it was sent. */
export interface SentMalformed {
  kind: MalformedKind;
  marker: string;
  eventId?: string;
  status: number | 'error';
  code?: string;
  sentAt: string;
}

/** The shipment id of an unknown-shipment webhook: a well-formed id no ERP delivery has. */
export function unknownShipmentId(seed: number, n: number): string {
  return shipmentWorkflowId(`CHAOS-${Math.abs(seed) % 10_000}-${String(n).padStart(2, '0')}`);
}

/** A signed-looking Onfleet payload for a task of a shipment, as the dispatch sandbox sends them. */
function onfleetPayload(
  trigger: 'taskArrival' | 'taskCompleted',
  taskId: string,
  shipmentId: string,
  time: number,
) {
  const location: [number, number] = [-87.6298, 41.8781];
  return {
    actionContext: { type: 'WORKER', id: 'chaosWorker0000000000000' },
    adminId: null,
    data: {
      task: {
        id: taskId,
        worker: 'chaosWorker0000000000000',
        completeAfter: time - 3_600_000,
        completeBefore: time + 3_600_000,
        destination: { location },
        metadata: [
          { name: 'shipmentId', type: 'string', value: shipmentId, visibility: ['api'] },
          { name: 'attempt', type: 'number', value: 1, visibility: ['api'] },
        ],
        ...(trigger === 'taskCompleted'
          ? {
              completionDetails: {
                success: true,
                time,
                lastLocation: location,
                signatureUploadId: `sig${taskId}`,
                photoUploadIds: [`pho${taskId}`],
                notes: '',
              },
            }
          : {}),
      },
    },
    taskId,
    time,
    triggerId: WEBHOOK_TRIGGERS[trigger],
    triggerName: trigger,
    workerId: 'chaosWorker0000000000000',
  };
}

/**
 * The malformed webhooks of one batch: per batch two signed events for unknown shipments, two signed
 * bodies with schema drift, one signed body that is not JSON, one body under a wrong signature and one
 * without a signature. `first` numbers the markers so batches never share one.
 */
export function buildMalformedWebhooks(opts: {
  secret: string;
  seed: number;
  first: number;
  timeMs: number;
}): MalformedWebhook[] {
  const out: MalformedWebhook[] = [];
  let n = opts.first;
  const next = () =>
    `chaosmark${String(Math.abs(opts.seed) % 10_000).padStart(4, '0')}x${String(n++).padStart(3, '0')}`;
  const signed = (body: string) => ({
    'content-type': 'application/json',
    'x-onfleet-signature': signOnfleetWebhook(opts.secret, body),
    'user-agent': 'Onfleet-Sandbox/2',
  });
  for (const trigger of ['taskArrival', 'taskCompleted'] as const) {
    const marker = next();
    const time = opts.timeMs + out.length;
    const body = JSON.stringify(onfleetPayload(trigger, marker, unknownShipmentId(opts.seed, n), time));
    out.push({
      kind: 'unknown-shipment',
      marker,
      body,
      headers: signed(body),
      eventId: onfleetEventId(trigger, marker, time),
    });
  }
  {
    // A vendor that starts sending the event time as an ISO string instead of epoch milliseconds.
    const marker = next();
    const p = onfleetPayload('taskArrival', marker, unknownShipmentId(opts.seed, n), opts.timeMs);
    const body = JSON.stringify({ ...p, time: new Date(opts.timeMs).toISOString() });
    out.push({ kind: 'schema-drift', marker, body, headers: signed(body) });
  }
  {
    // A task whose metadata lost the attempt number shipsync put there.
    const marker = next();
    const p = onfleetPayload('taskCompleted', marker, unknownShipmentId(opts.seed, n), opts.timeMs);
    const task = { ...p.data.task, metadata: p.data.task.metadata.filter((m) => m.name !== 'attempt') };
    const body = JSON.stringify({ ...p, data: { task } });
    out.push({ kind: 'schema-drift', marker, body, headers: signed(body) });
  }
  {
    const marker = next();
    const body = `{"triggerName":"taskArrival","taskId":"${marker}","time":${opts.timeMs},"data":{"task":`;
    out.push({ kind: 'invalid-json', marker, body, headers: signed(body) });
  }
  {
    const marker = next();
    const body = JSON.stringify(
      onfleetPayload('taskCompleted', marker, unknownShipmentId(opts.seed, n), opts.timeMs),
    );
    out.push({
      kind: 'bad-signature',
      marker,
      body,
      headers: { ...signed(body), 'x-onfleet-signature': signOnfleetWebhook(`${opts.secret}-forged`, body) },
    });
  }
  {
    const marker = next();
    const body = JSON.stringify(
      onfleetPayload('taskArrival', marker, unknownShipmentId(opts.seed, n), opts.timeMs),
    );
    out.push({ kind: 'unsigned', marker, body, headers: { 'content-type': 'application/json' } });
  }
  return out;
}
