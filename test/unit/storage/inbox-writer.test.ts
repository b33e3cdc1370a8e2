import { describe, expect, it } from 'vitest';
import { InboxWriter, type InboxRepository, type NewInboxEvent } from '../../../src/storage/inbox.js';

function event(id: string): NewInboxEvent {
  return {
    eventId: id,
    source: 'dispatch',
    type: 'stop.arrived.v1',
    payload: {},
    headers: {},
    receivedAt: '2026-12-01T08:00:00.000Z',
  };
}

describe('inbox group-commit writer', () => {
  it('when a batch fails because of one row then its neighbours are still committed and only that caller sees the error', async () => {
    const committed: string[] = [];
    const batches: number[] = [];
    const inbox = {
      async insertMany(events: readonly NewInboxEvent[]) {
        batches.push(events.length);
        if (events.some((e) => e.eventId === 'bad')) throw new Error('invalid byte sequence');
        committed.push(...events.map((e) => e.eventId));
        return events.map(() => 'inserted' as const);
      },
      async insert(e: NewInboxEvent) {
        if (e.eventId === 'bad') throw new Error('invalid byte sequence');
        committed.push(e.eventId);
        return 'inserted' as const;
      },
    } as unknown as InboxRepository;
    const writer = new InboxWriter(inbox);
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((id) => writer.insert(event(id))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(committed).toEqual(['a', 'c']);
    expect(batches).toEqual([3]);
  });
});
