import { describe, expect, it } from 'vitest';
import type { DeliveryAttempt } from '../../../sandbox/common/webhooks.js';
import { accountEvents, type InboxFate } from '../../../tools/chaos/events.js';
import { eventsLostCheck } from '../../../tools/chaos/invariants.js';
import { recoveryText, trimmedSummary, type ChaosSummary } from '../../../tools/chaos/report.js';

const G1 = 'http://127.0.0.1:1/webhooks/dispatch';
const G2 = 'http://127.0.0.1:2/webhooks/dispatch';

const ok = (seq: number, data: Record<string, unknown>, url = G1): DeliveryAttempt => ({
  seq,
  url,
  status: 200,
  at: '2026-01-01T00:00:00.000Z',
  data,
});
const failed = (seq: number, url = G2, status: number | 'error' = 'error'): DeliveryAttempt => ({
  seq,
  url,
  status,
  at: '2026-01-01T00:00:00.000Z',
});
const fate = (
  status: InboxFate['status'],
  outcome: InboxFate['outcome'] = null,
  attempts = 1,
): InboxFate => ({
  status,
  outcome,
  attempts,
});

describe('chaos event accounting', () => {
  it('when every acknowledged webhook is in the inbox or telemetry then none is lost, duplicates and retries are counted', () => {
    const log = [
      ok(0, { accepted: true, duplicate: false, eventId: 'e0' }),
      // Sent three times: the gateway had it from the first copy on.
      ok(1, { accepted: true, duplicate: false, eventId: 'e1' }),
      ok(1, { accepted: true, duplicate: true, eventId: 'e1' }),
      ok(1, { accepted: true, duplicate: true, eventId: 'e1' }),
      // Meant for a gateway that was down: refused twice, then delivered.
      failed(2),
      failed(2, G2, 503),
      ok(2, { accepted: true, duplicate: false, eventId: 'e2' }, G2),
      ok(3, { accepted: true, telemetry: true }),
      ok(4, { accepted: true, ignored: true, reason: 'not a shipment task' }),
      ok(5, { accepted: true, duplicate: false, eventId: 'e5' }),
      ok(6, { accepted: true, duplicate: false, eventId: 'e6' }),
      ok(7, { accepted: true, duplicate: false, eventId: 'e7' }),
      // Refused for good with a 4xx: not an event.
      failed(8, G1, 400),
    ];
    const inbox = new Map<string, InboxFate>([
      ['e0', fate('delivered', 'forwarded')],
      ['e1', fate('delivered', 'forwarded')],
      ['e2', fate('delivered', 'forwarded', 3)],
      ['e5', fate('delivered', 'late')],
      ['e6', fate('delivered', 'ignored')],
      ['e7', fate('dead')],
    ]);
    const e = accountEvents([{ source: 'dispatch', log, abandoned: [] }], inbox);
    expect(e).toMatchObject({
      webhooks: 9,
      acknowledged: 8,
      reachedShipment: 3,
      signalsRedelivered: 1,
      late: 1,
      ignored: 2,
      telemetry: 1,
      deadLetters: 1,
      duplicatesAbsorbed: 2,
      failedAttemptsRetried: 2,
      deliveredAfterRetry: 1,
      abandoned: 0,
      lost: 0,
      examples: [],
    });
    expect(eventsLostCheck(e).pass).toBe(true);
  });

  it('when an acknowledged event has no inbox row or is still pending then it is lost, and the check fails naming it', () => {
    const log = [
      ok(0, { accepted: true, duplicate: false, eventId: 'gone' }),
      ok(1, { accepted: true, duplicate: false, eventId: 'stuck' }),
      ok(2, { accepted: true }),
    ];
    const e = accountEvents(
      [{ source: 'dispatch', log, abandoned: [] }],
      new Map([['stuck', fate('pending')]]),
    );
    expect(e.lost).toBe(3);
    expect(e.examples.map((x) => x.why)).toEqual([
      'acknowledged but not in the inbox',
      'still pending in the inbox at the end',
      'acknowledged without an event id',
    ]);
    const check = eventsLostCheck(e);
    expect(check.pass).toBe(false);
    expect(check.detail).toContain('gone');
  });

  it('when the sender gave up on a webhook then it is counted apart and fails the check', () => {
    const e = accountEvents(
      [
        {
          source: 'erp',
          log: [failed(0), failed(0)],
          abandoned: [{ seq: 0, url: G2, attempts: 2, lastStatus: 'error', at: '' }],
        },
      ],
      new Map(),
    );
    expect(e).toMatchObject({ webhooks: 1, acknowledged: 0, abandoned: 1, lost: 0 });
    const check = eventsLostCheck(e);
    expect(check.pass).toBe(false);
    expect(check.detail).toMatch(/erp webhook #0 .*given up after 2 attempts/);
  });

  it('when many are lost then the examples are capped and the rest counted', () => {
    const log = Array.from({ length: 30 }, (_, i) => ok(i, { accepted: true, eventId: `x${i}` }));
    const e = accountEvents([{ source: 'dispatch', log, abandoned: [] }], new Map(), 5);
    expect(e.examples).toHaveLength(5);
    expect(eventsLostCheck(e).problems.at(-1)).toBe('and 25 more');
  });
});

describe('chaos report', () => {
  it('when a fault recovered then the line gives the serving time and the backlog drain', () => {
    expect(
      recoveryText({
        servingAfterSeconds: 12.5,
        backlogBefore: 3,
        backlogPeak: 80,
        backlogDrainedAfterSeconds: 20.1,
        note: 'the other gateway kept accepting',
      }),
    ).toBe(
      'serving again after 12.5 s; inbox backlog 3 → peak 80 → back at or below 3 after 20.1 s; the other gateway kept accepting',
    );
    expect(recoveryText({ backlogBefore: 0, backlogPeak: 9 })).toBe(
      'NOT serving again in time; inbox backlog 0 → peak 9, NOT back in time',
    );
    expect(recoveryText(undefined)).toBe('');
  });

  it('when trimmed for the benchmark record then details, malformed bodies and examples are left out', () => {
    const summary: ChaosSummary = {
      ok: true,
      date: '2026-11-30T00:00:00.000Z',
      commit: 'abc1234',
      options: { shipments: 2, seed: 7, scale: 720, backend: 'postgres', gateways: 2, workers: 2 },
      realSeconds: 100,
      simulated: { from: 'a', to: 'b' },
      dispatchWebhookFaults: {
        webhookDuplicateRate: 0.3,
        webhookDuplicateCopies: 3,
        webhookReorderRate: 0.2,
      },
      faults: [
        { kind: 'erp-outage', at: '', offsetSeconds: 30, detail: 'long text' },
        {
          kind: 'gateway-kill',
          at: '',
          offsetSeconds: 45.2,
          detail: 'long text',
          recovery: {
            servingAfterSeconds: 14,
            backlogBefore: 2,
            backlogPeak: 40,
            backlogDrainedAfterSeconds: 19,
          },
        },
      ],
      counts: { shipments: 2, closed: 2 },
      malformed: [],
      invariants: [{ name: 'every shipment terminal', pass: true, detail: 'long text' }],
      stuck: {},
      mismatches: [],
    };
    expect(trimmedSummary(summary)).toEqual({
      ok: true,
      date: summary.date,
      commit: 'abc1234',
      options: summary.options,
      realSeconds: 100,
      simulated: summary.simulated,
      counts: summary.counts,
      invariants: [{ name: 'every shipment terminal', pass: true }],
      faults: [
        { at: '+30 s', kind: 'erp-outage' },
        {
          at: '+45.2 s',
          kind: 'gateway-kill',
          servingAfterSeconds: 14,
          backlog: '2 → 40',
          backlogDrainedAfterSeconds: 19,
        },
      ],
    });
  });
});
