import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import axios from 'axios';
import type { CommentRecord, TicketRecord, TicketStore } from './store.js';
import { zendeskTime } from './zendesk.js';

/** Custom audit metadata key holding the planned ETA/window marker of a customer notice. */
export const PLAN_METADATA_KEY = 'shipsync_plan';
/** Custom audit metadata key holding the idempotency key of the write that added a comment. */
export const KEY_METADATA_KEY = 'shipsync_idempotency_key';
/** Webhook event type the sandbox sends when a customer asks for another slot. */
export const RESCHEDULE_EVENT_TYPE = 'zen:event-type:ticket.reschedule_requested';

/** A delivery window as exchanged with the reschedule API. */
export interface Window {
  start: string;
  end: string;
}

/** The plan a customer notice announces. */
export interface AnnouncedPlan {
  eta: string;
  window: Window;
}

const MARKER = /shipsync:eta=([^;\s\]]+);window=([^/\s\]]+)\/([^;\s\]]+)/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Reads a `shipsync:eta=<ISO>;window=<ISO>/<ISO>` marker out of any text; undefined when absent or invalid. */
export function parsePlanMarker(text: string): AnnouncedPlan | undefined {
  const m = MARKER.exec(text);
  if (!m) return undefined;
  const [, eta, start, end] = m;
  if (!eta || !start || !end || ![eta, start, end].every((v) => ISO.test(v))) return undefined;
  if (!(Date.parse(end) > Date.parse(start))) return undefined;
  return { eta, window: { start, end } };
}

/** ISO instant without milliseconds when they are zero. */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The same hours on the next weekday (UTC calendar): Friday's window moves to Monday. */
export function nextWeekdaySlot(window: Window): Window {
  const start = Date.parse(window.start);
  const length = Date.parse(window.end) - start;
  const day = 24 * 3600 * 1000;
  let next = start + day;
  const weekday = new Date(next).getUTCDay();
  if (weekday === 6) next += 2 * day;
  else if (weekday === 0) next += day;
  return { start: iso(next), end: iso(next + length) };
}

/** FNV-1a hash of a string mapped to [0, 1), so a decision depends only on its inputs, not on arrival order. */
export function unitHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 4294967296;
}

/** Whether the simulated customer behind a notice asks for another slot: seeded and order-independent. */
export function customerAsksForAnotherSlot(
  seed: number,
  shipmentId: string,
  noticeKey: string,
  rate: number,
): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  return unitHash(`${seed}|${shipmentId}|${noticeKey}`) < rate;
}

/** How simulated customers behave. */
export interface CustomerSettings {
  rescheduleRate: number;
  mode: 'api' | 'webhook';
  rescheduleApiUrl?: string;
  apiToken?: string;
  /** Reschedule requests at most per shipment, so a revised-ETA notice does not loop forever. */
  maxPerShipment: number;
}

/** One reschedule a simulated customer asked for, and what came of it. */
export interface RescheduleRecord {
  ticketId: number;
  shipmentId: string;
  n: number;
  mode: 'api' | 'webhook';
  noticeCommentId: number;
  previousWindow: Window;
  requestedWindow: Window;
  at: string;
  idempotencyKey?: string;
  eventId?: string;
  attempts: number;
  response?: { status: number; body: unknown };
  error?: string;
}

/** An agent retries an unreachable or busy API for about two minutes (backoff doubling up to 5 s). */
const MAX_API_ATTEMPTS = 30;

/**
 * Customers who read the ETA notices and sometimes ask for another slot, either the way an agent would
 * (calling shipsync's reschedule API) or as a Zendesk webhook event.
 */
export class SimulatedCustomers {
  /** Every reschedule asked for, in order. */
  readonly records: RescheduleRecord[] = [];
  private readonly perShipment = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private closing = false;

  constructor(
    private readonly deps: {
      settings: CustomerSettings;
      seed: number;
      store: TicketStore;
      now: () => number;
      emitWebhook: (payload: Record<string, unknown>) => void;
    },
  ) {}

  /** Reacts to a public comment; only notices that carry a plan marker can lead to a reschedule. */
  onNotice(ticket: TicketRecord, comment: CommentRecord, noticeKey: string) {
    const { settings, seed } = this.deps;
    const shipmentId = ticket.externalId;
    if (!shipmentId || this.closing) return;
    const marker = comment.custom[PLAN_METADATA_KEY];
    const plan = parsePlanMarker(typeof marker === 'string' ? marker : comment.body);
    if (!plan) return;
    const asked = this.perShipment.get(shipmentId) ?? 0;
    if (asked >= settings.maxPerShipment) return;
    if (!customerAsksForAnotherSlot(seed, shipmentId, noticeKey, settings.rescheduleRate)) return;
    const n = asked + 1;
    this.perShipment.set(shipmentId, n);
    const record: RescheduleRecord = {
      ticketId: ticket.id,
      shipmentId,
      n,
      mode: settings.mode,
      noticeCommentId: comment.id,
      previousWindow: plan.window,
      requestedWindow: nextWeekdaySlot(plan.window),
      at: zendeskTime(this.deps.now()),
      attempts: 0,
    };
    this.records.push(record);
    if (settings.mode === 'webhook') {
      this.sendWebhook(ticket, record);
      return;
    }
    const job = this.callApi(ticket, record).finally(() => this.pending.delete(job));
    this.pending.add(job);
  }

  /** Resolves when every reschedule call under way has finished. */
  async drain() {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** Stops retrying and waits for calls under way. */
  async close() {
    this.closing = true;
    await this.drain();
  }

  private sendWebhook(ticket: TicketRecord, record: RescheduleRecord) {
    const eventId = randomUUID();
    record.eventId = eventId;
    this.deps.emitWebhook({
      type: RESCHEDULE_EVENT_TYPE,
      account_id: 1,
      id: eventId,
      time: record.at,
      zendesk_event_version: '2022-11-06',
      subject: `zen:ticket:${ticket.id}`,
      detail: {
        id: String(ticket.id),
        external_id: record.shipmentId,
        status: ticket.status.toUpperCase(),
        subject: ticket.subject,
        requester_id: String(ticket.requesterId),
        tags: [...ticket.tags],
        updated_at: zendeskTime(ticket.updatedAt),
      },
      event: { requested_window: record.requestedWindow },
    });
    this.deps.store.addInternalNote(
      ticket,
      `Customer asked for another slot: ${record.requestedWindow.start} to ${record.requestedWindow.end} ` +
        `(event ${eventId} sent).`,
    );
  }

  private async callApi(ticket: TicketRecord, record: RescheduleRecord) {
    const { rescheduleApiUrl, apiToken } = this.deps.settings;
    const key = `crm-reschedule-${ticket.id}-${record.n}`;
    record.idempotencyKey = key;
    const url = `${(rescheduleApiUrl ?? '').replace(/\/+$/, '')}/v1/shipments/${encodeURIComponent(record.shipmentId)}/reschedule`;
    const body = {
      window: record.requestedWindow,
      reason: 'customer requested another slot',
      ticketId: String(ticket.id),
    };
    for (let attempt = 1; attempt <= MAX_API_ATTEMPTS && !this.closing; attempt++) {
      record.attempts = attempt;
      let retryAfterMs = Math.min(5000, 200 * 2 ** (attempt - 1));
      try {
        const res = await axios.post(url, body, {
          headers: {
            authorization: `Bearer ${apiToken ?? ''}`,
            'idempotency-key': key,
            'content-type': 'application/json',
          },
          timeout: 10_000,
          validateStatus: () => true,
        });
        record.response = { status: res.status, body: res.data };
        delete record.error;
        // An agent retries what may succeed later: 429 and 5xx, with the same idempotency key.
        if (res.status !== 429 && res.status < 500) break;
        const after = Number(res.headers['retry-after']);
        if (Number.isFinite(after) && after > 0) retryAfterMs = Math.min(after * 1000, 5000);
      } catch (err) {
        record.error = err instanceof Error ? err.message : String(err);
      }
      if (attempt < MAX_API_ATTEMPTS && !this.closing) await sleep(retryAfterMs);
    }
    const outcome = record.response
      ? `answered HTTP ${record.response.status}: ${JSON.stringify(record.response.body ?? null).slice(0, 2000)}`
      : `could not be reached: ${record.error ?? 'stopped'}`;
    this.deps.store.addInternalNote(
      ticket,
      `Customer asked for another slot: ${record.requestedWindow.start} to ${record.requestedWindow.end}. ` +
        `Reschedule API (${key}) ${outcome}`,
      { [KEY_METADATA_KEY]: key },
    );
  }
}
