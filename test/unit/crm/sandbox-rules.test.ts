import { describe, expect, it } from 'vitest';
import {
  customerAsksForAnotherSlot,
  nextWeekdaySlot,
  parsePlanMarker,
} from '../../../sandbox/crm/customers.js';
import { decodeCursor, encodeCursor, paginate, parsePageQuery } from '../../../sandbox/crm/pagination.js';
import { MinuteBudget } from '../../../sandbox/crm/rate-limit.js';
import { parseSearchQuery } from '../../../sandbox/crm/search.js';
import { hasCredentials } from '../../../sandbox/crm/server.js';

describe('simulated customer: next slot', () => {
  it.each([
    [
      'Monday',
      '2026-11-30T14:00:00Z',
      '2026-11-30T18:00:00Z',
      '2026-12-01T14:00:00Z',
      '2026-12-01T18:00:00Z',
    ],
    [
      'Thursday',
      '2026-12-03T14:00:00Z',
      '2026-12-03T18:00:00Z',
      '2026-12-04T14:00:00Z',
      '2026-12-04T18:00:00Z',
    ],
    [
      'Friday',
      '2026-12-04T14:00:00Z',
      '2026-12-04T18:00:00Z',
      '2026-12-07T14:00:00Z',
      '2026-12-07T18:00:00Z',
    ],
    [
      'Saturday',
      '2026-12-05T09:00:00Z',
      '2026-12-05T11:30:00Z',
      '2026-12-07T09:00:00Z',
      '2026-12-07T11:30:00Z',
    ],
    [
      'Friday with an offset',
      '2026-12-04T08:00:00-06:00',
      '2026-12-04T12:00:00-06:00',
      '2026-12-07T14:00:00Z',
      '2026-12-07T18:00:00Z',
    ],
  ])(
    'when the planned window is on %s then the customer asks for the next weekday, same hours',
    (_d, s, e, ns, ne) => {
      expect(nextWeekdaySlot({ start: s, end: e })).toEqual({ start: ns, end: ne });
    },
  );
});

describe('simulated customer: plan marker', () => {
  it.each([
    ['shipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z', true],
    [
      'Arriving soon [shipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z]',
      true,
    ],
    ['shipsync:eta=2026-12-01T15:20:00Z;window=2026-12-01T18:00:00Z/2026-12-01T14:00:00Z', false],
    ['shipsync:eta=tomorrow;window=2026-12-01T14:00:00Z/2026-12-01T18:00:00Z', false],
    ['Your parcel is on its way', false],
  ])('when the notice reads %j then a plan is found: %s', (text, found) => {
    expect(parsePlanMarker(text) !== undefined).toBe(found);
  });
});

describe('simulated customer: decision', () => {
  it('when the same seed, shipment and notice are replayed then the decision is the same', () => {
    const decisions = (seed: number) =>
      Array.from({ length: 200 }, (_, i) => customerAsksForAnotherSlot(seed, `shipment-${i}`, `k-${i}`, 0.3));
    expect(decisions(7)).toEqual(decisions(7));
    expect(decisions(7)).not.toEqual(decisions(8));
  });

  it('when the rate is 0.3 then about 30% of customers ask', () => {
    const asked = Array.from({ length: 2000 }, (_, i) =>
      customerAsksForAnotherSlot(1, `shipment-${i}`, 'k', 0.3),
    );
    const share = asked.filter(Boolean).length / asked.length;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
  });

  it.each([
    [0, false],
    [1, true],
  ])('when the rate is %s then every customer decides %s', (rate, expected) => {
    for (let i = 0; i < 50; i++) expect(customerAsksForAnotherSlot(3, `s-${i}`, 'k', rate)).toBe(expected);
  });
});

describe('cursor pagination', () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: i + 1 }));
  const link = (p: Record<string, string | number>) => JSON.stringify(p);

  it('when pages of 2 are walked forward then every row comes once and has_more ends false', () => {
    const seen: number[] = [];
    let after: number | undefined;
    for (;;) {
      const page = paginate(rows, { mode: 'cursor', size: 2, after }, link);
      seen.push(...page.items.map((r) => r.id));
      const meta = page.envelope.meta as { has_more: boolean; after_cursor: string };
      if (!meta.has_more) break;
      after = decodeCursor(meta.after_cursor);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it.each([
    [{ 'page[size]': '0' }, 'page[size]'],
    [{ 'page[size]': '101' }, 'page[size]'],
    [{ 'page[size]': 'ten' }, 'page[size]'],
    [{ 'page[size]': ['1', '2'] }, 'page[size]'],
    [{ 'page[after]': 'not-a-cursor' }, 'page[after]'],
    [{ 'page[after]': encodeCursor(1), 'page[before]': encodeCursor(3) }, 'combined'],
    [{ page: '101' }, 'cursor pagination'],
    [{ per_page: '-1' }, 'per_page'],
  ])('when the query is %j then paging is refused naming %s', (query, words) => {
    const parsed = parsePageQuery(query);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.description).toContain(words);
  });

  it('when a cursor was issued here then it decodes to its record id', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
  });
});

describe('search query', () => {
  it('when the query names external_id and type then both terms are read', () => {
    expect(parseSearchQuery('external_id:shipment-1 type:ticket')).toEqual([
      { key: 'external_id', value: 'shipment-1', negate: false },
      { key: 'type', value: 'ticket', negate: false },
    ]);
  });

  it('when a value is quoted or negated then it is kept whole and negated', () => {
    expect(parseSearchQuery('subject:"late delivery" -status:solved')).toEqual([
      { key: 'subject', value: 'late delivery', negate: false },
      { key: 'status', value: 'solved', negate: true },
    ]);
  });
});

describe('rate limit and credentials', () => {
  it('when the minute budget is spent then Retry-After counts to the next minute', () => {
    let now = 1_000_000;
    const budget = new MinuteBudget(2, () => now);
    expect(budget.take()).toEqual({ ok: true, limit: 2, remaining: 1 });
    expect(budget.take()).toEqual({ ok: true, limit: 2, remaining: 0 });
    now += 15_000;
    expect(budget.take()).toEqual({ ok: false, retryAfterSeconds: 45 });
    now += 45_000;
    expect(budget.take().ok).toBe(true);
  });

  it.each([
    [`Basic ${Buffer.from('agent@example.com/token:abc').toString('base64')}`, true],
    ['Bearer abc', true],
    [`Basic ${Buffer.from('agent@example.com/token:').toString('base64')}`, false],
    [`Basic ${Buffer.from('no-colon').toString('base64')}`, false],
    ['Basic', false],
    ['Token abc', false],
    [undefined, false],
  ])('when Authorization is %j then credentials are accepted: %s', (header, ok) => {
    expect(hasCredentials(header)).toBe(ok);
  });
});
