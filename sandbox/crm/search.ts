import type { TicketRecord } from './store.js';

/** One term of a Zendesk search query: `keyword:value` (optionally negated with `-`) or free text. */
export interface SearchTerm {
  key?: string;
  value: string;
  negate: boolean;
}

/** Splits a Zendesk search query into terms; double quotes keep spaces inside a value. */
export function parseSearchQuery(query: string): SearchTerm[] {
  const terms: SearchTerm[] = [];
  const re = /(-?)(?:([a-z_]+)(:|=))?(?:"([^"]*)"|(\S+))/gi;
  for (const m of query.matchAll(re)) {
    const value = m[4] ?? m[5] ?? '';
    if (!value && m[4] === undefined) continue;
    terms.push({ key: m[2]?.toLowerCase(), value, negate: m[1] === '-' });
  }
  return terms;
}

function matches(t: TicketRecord, term: SearchTerm): boolean {
  const v = term.value.toLowerCase();
  switch (term.key) {
    case 'type':
      return v === 'ticket';
    case 'external_id':
      return t.externalId !== null && t.externalId.toLowerCase() === v;
    case 'status':
      return t.status === v;
    case 'priority':
      return t.priority === v;
    case 'tags':
    case 'tag':
      return t.tags.includes(v);
    case 'subject':
      return t.subject.toLowerCase().includes(v);
    default: {
      // Unknown keywords search the text, as Zendesk falls back to full-text matching.
      const text = term.key ? `${term.key}:${v}` : v;
      return (
        t.subject.toLowerCase().includes(text) ||
        t.description.toLowerCase().includes(text) ||
        t.comments.some((c) => c.body.toLowerCase().includes(text))
      );
    }
  }
}

/** Tickets matching every term of the query, ascending by id. */
export function searchTickets(tickets: readonly TicketRecord[], query: string): TicketRecord[] {
  const terms = parseSearchQuery(query);
  return tickets.filter((t) => terms.every((term) => matches(t, term) !== term.negate));
}
