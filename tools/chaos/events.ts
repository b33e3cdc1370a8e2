import type { AbandonedWebhook, DeliveryAttempt } from '../../sandbox/common/webhooks.js';

/** Where an inbox row ended, as the accounting reads it. */
export interface InboxFate {
  status: 'pending' | 'delivered' | 'dead';
  /** How a delivered row was settled (null on rows settled before outcomes were recorded: forwarded). */
  outcome: 'forwarded' | 'late' | 'ignored' | null;
  /** Delivery attempts the gateways made (a signal sent again after a crash or a lost lease counts twice). */
  attempts: number;
}

/** The webhooks of one sandbox sender, as it logged them. */
export interface SenderLog {
  /** Which sandbox sent them (dispatch, erp). */
  source: string;
  log: readonly DeliveryAttempt[];
  abandoned: readonly AbandonedWebhook[];
}

/** One webhook the accounting could not place. */
export interface LostEvent {
  source: string;
  seq: number;
  url: string;
  eventId?: string;
  why: string;
}

/** Every webhook a sandbox handed to its sender, by what became of it. */
export interface EventAccounting {
  /** Distinct webhooks handed to the senders. */
  webhooks: number;
  /** Webhooks with at least one 2xx answer. */
  acknowledged: number;
  /** Acknowledged webhooks whose inbox row reached its shipment's workflow. */
  reachedShipment: number;
  /** Acknowledged webhooks whose row came after the shipment had closed (kept, counted, not delivered). */
  late: number;
  /** Acknowledged webhooks refused before the workflow with a reason (at intake or from the inbox). */
  ignored: number;
  /** Acknowledged webhooks the gateway kept as driver telemetry (never an inbox row). */
  telemetry: number;
  /** Acknowledged webhooks whose inbox row is a dead letter. */
  deadLetters: number;
  /** 2xx answers in which the gateway said it had the event already (copies and redeliveries, not stored again). */
  duplicatesAbsorbed: number;
  /**
   * Acknowledged events that reached their workflow after more than one delivery attempt from the inbox: a
   * second signal after a gateway died or lost its lease, dropped by Temporal's request id or the
   * workflow's event-id check when the first had landed.
   */
  signalsRedelivered: number;
  /** Deliveries that failed (no answer, 5xx, 429) and were retried by the sender. */
  failedAttemptsRetried: number;
  /** Webhooks delivered only after at least one failed attempt. */
  deliveredAfterRetry: number;
  /** Webhooks the sender gave up on without a 2xx. */
  abandoned: number;
  /** Acknowledged webhooks whose event is not accounted for: no inbox row, or one still pending. */
  lost: number;
  /** The first lost or abandoned webhooks, for the report. */
  examples: LostEvent[];
}

/**
 * Accounts for every webhook the sandboxes sent: each one acknowledged with a 2xx must have reached its
 * shipment or be accounted for as a duplicate, late, ignored, telemetry or a dead letter; anything else is
 * lost. Webhooks the sender gave up on are counted apart (the sender knows it failed; a real vendor would
 * alert) and listed with the lost ones.
 */
export function accountEvents(
  senders: readonly SenderLog[],
  inbox: ReadonlyMap<string, InboxFate>,
  maxExamples = 20,
): EventAccounting {
  const out: EventAccounting = {
    webhooks: 0,
    acknowledged: 0,
    reachedShipment: 0,
    late: 0,
    ignored: 0,
    telemetry: 0,
    deadLetters: 0,
    duplicatesAbsorbed: 0,
    signalsRedelivered: 0,
    failedAttemptsRetried: 0,
    deliveredAfterRetry: 0,
    abandoned: 0,
    lost: 0,
    examples: [],
  };
  const example = (e: LostEvent) => {
    if (out.examples.length < maxExamples) out.examples.push(e);
  };
  for (const sender of senders) {
    const bySeq = new Map<number, DeliveryAttempt[]>();
    for (const a of sender.log) bySeq.set(a.seq, [...(bySeq.get(a.seq) ?? []), a]);
    const abandoned = new Map(sender.abandoned.map((a) => [a.seq, a]));
    const seqs = new Set([...bySeq.keys(), ...abandoned.keys()]);
    out.webhooks += seqs.size;
    for (const seq of seqs) {
      const attempts = bySeq.get(seq) ?? [];
      const ok = attempts.filter((a) => typeof a.status === 'number' && a.status >= 200 && a.status < 300);
      const failed = attempts.filter(
        (a) =>
          a.status === 'error' || (typeof a.status === 'number' && (a.status >= 500 || a.status === 429)),
      );
      out.failedAttemptsRetried += failed.length;
      if (ok.length === 0) {
        if (abandoned.has(seq)) {
          const a = abandoned.get(seq)!;
          out.abandoned++;
          example({
            source: sender.source,
            seq,
            url: a.url,
            why: `given up after ${a.attempts} attempts (last ${a.lastStatus})`,
          });
        }
        // Otherwise refused for good with a 4xx (malformed on purpose, or by the receiver's rules): not an event.
        continue;
      }
      out.acknowledged++;
      out.duplicatesAbsorbed += ok.filter((a) => a.data?.duplicate === true).length;
      if (failed.length > 0) out.deliveredAfterRetry++;
      const answers = ok.map((a) => a.data ?? {});
      if (answers.some((d) => d.telemetry === true)) {
        out.telemetry++;
        continue;
      }
      if (answers.some((d) => d.ignored === true)) {
        out.ignored++;
        continue;
      }
      const eventId = answers.map((d) => d.eventId).find((id): id is string => typeof id === 'string');
      const url = ok[0]!.url;
      if (!eventId) {
        out.lost++;
        example({ source: sender.source, seq, url, why: 'acknowledged without an event id' });
        continue;
      }
      const fate = inbox.get(eventId);
      if (!fate) {
        out.lost++;
        example({ source: sender.source, seq, url, eventId, why: 'acknowledged but not in the inbox' });
      } else if (fate.status === 'dead') out.deadLetters++;
      else if (fate.status === 'pending') {
        out.lost++;
        example({ source: sender.source, seq, url, eventId, why: 'still pending in the inbox at the end' });
      } else if (fate.outcome === 'late') out.late++;
      else if (fate.outcome === 'ignored') out.ignored++;
      else {
        out.reachedShipment++;
        if (fate.attempts > 1) out.signalsRedelivered++;
      }
    }
  }
  return out;
}
