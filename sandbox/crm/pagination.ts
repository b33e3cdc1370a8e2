/** Largest page Zendesk serves on list endpoints. */
export const MAX_PAGE_SIZE = 100;
/** Offset pagination stops after 100 pages (10,000 records) with a 400, as Zendesk does since 2023. */
export const MAX_OFFSET_PAGE = 100;

/** How a list request asked to be paged: cursor (`page[size]`) or offset (`page`, `per_page`). */
export type PageRequest =
  | { mode: 'cursor'; size: number; after?: number; before?: number }
  | { mode: 'offset'; page: number; perPage: number };

/** The outcome of reading the paging parameters of a request. */
export type PageParse = { ok: true; value: PageRequest } | { ok: false; description: string };

const CURSOR_PREFIX = 'zc1.';

/** Opaque cursor for a position after or before a record id. */
export function encodeCursor(id: number): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify({ o: id })).toString('base64url');
}

/** The record id a cursor points at, or undefined when the cursor was not issued here. */
export function decodeCursor(cursor: string): number | undefined {
  if (!cursor.startsWith(CURSOR_PREFIX) || cursor.length > 200) return undefined;
  try {
    const parsed: unknown = JSON.parse(
      Buffer.from(cursor.slice(CURSOR_PREFIX.length), 'base64url').toString(),
    );
    const id = (parsed as { o?: unknown } | null)?.o;
    return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

function single(query: Record<string, unknown>, key: string): string | undefined | null {
  const v = query[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : null;
}

function positiveInt(raw: string): number | undefined {
  if (!/^\d{1,9}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= 1 ? n : undefined;
}

/** Reads `page[size]`/`page[after]`/`page[before]` or `page`/`per_page` the way Zendesk list endpoints do. */
export function parsePageQuery(query: Record<string, unknown>, defaultSize = MAX_PAGE_SIZE): PageParse {
  const keys = ['page[size]', 'page[after]', 'page[before]', 'page', 'per_page'] as const;
  const values: Partial<Record<(typeof keys)[number], string>> = {};
  for (const key of keys) {
    const v = single(query, key);
    if (v === null) return { ok: false, description: `${key} must be given once` };
    if (v !== undefined) values[key] = v;
  }
  const cursorMode = ['page[size]', 'page[after]', 'page[before]'].some((k) => k in values);
  if (cursorMode) {
    let size = defaultSize;
    if (values['page[size]'] !== undefined) {
      const n = positiveInt(values['page[size]']);
      if (n === undefined || n > MAX_PAGE_SIZE) {
        return { ok: false, description: `page[size] must be an integer from 1 to ${MAX_PAGE_SIZE}` };
      }
      size = n;
    }
    if (values['page[after]'] !== undefined && values['page[before]'] !== undefined) {
      return { ok: false, description: 'page[after] and page[before] cannot be combined' };
    }
    const req: PageRequest = { mode: 'cursor', size };
    for (const dir of ['after', 'before'] as const) {
      const raw = values[`page[${dir}]`];
      if (raw === undefined) continue;
      const id = decodeCursor(raw);
      if (id === undefined) return { ok: false, description: `page[${dir}] is not a valid cursor` };
      req[dir] = id;
    }
    return { ok: true, value: req };
  }
  let page = 1;
  let perPage = defaultSize;
  if (values.page !== undefined) {
    const n = positiveInt(values.page);
    if (n === undefined) return { ok: false, description: 'page must be a positive integer' };
    if (n > MAX_OFFSET_PAGE) {
      return {
        ok: false,
        description: `offset pagination is limited to ${MAX_OFFSET_PAGE} pages; use cursor pagination`,
      };
    }
    page = n;
  }
  if (values.per_page !== undefined) {
    const n = positiveInt(values.per_page);
    if (n === undefined || n > MAX_PAGE_SIZE) {
      return { ok: false, description: `per_page must be an integer from 1 to ${MAX_PAGE_SIZE}` };
    }
    perPage = n;
  }
  return { ok: true, value: { mode: 'offset', page, perPage } };
}

/** Builds a URL with Zendesk's literal `page[...]` brackets. */
export function buildUrl(
  base: string,
  path: string,
  params: Record<string, string | number | undefined>,
): string {
  const pairs = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${encodeURIComponent(k).replace(/%5B/g, '[').replace(/%5D/g, ']')}=${encodeURIComponent(String(v))}`,
    );
  return `${base}${path}${pairs.length ? `?${pairs.join('&')}` : ''}`;
}

/** One page of a list and the Zendesk envelope fields that describe it. */
export interface Page<T> {
  items: T[];
  envelope: Record<string, unknown>;
}

/**
 * Pages records sorted by ascending id. `link` builds the URL of another page from its paging parameters
 * (the caller adds the request's other filters).
 */
export function paginate<T extends { id: number }>(
  sorted: readonly T[],
  req: PageRequest,
  link: (paging: Record<string, string | number>) => string,
): Page<T> {
  if (req.mode === 'offset') {
    const start = (req.page - 1) * req.perPage;
    const items = sorted.slice(start, start + req.perPage);
    const hasNext = start + req.perPage < sorted.length;
    return {
      items,
      envelope: {
        next_page: hasNext ? link({ page: req.page + 1, per_page: req.perPage }) : null,
        previous_page: req.page > 1 ? link({ page: req.page - 1, per_page: req.perPage }) : null,
        count: sorted.length,
      },
    };
  }
  let items: T[];
  let hasMore: boolean;
  if (req.before !== undefined) {
    const earlier = sorted.filter((r) => r.id < req.before!);
    items = earlier.slice(Math.max(0, earlier.length - req.size));
    hasMore = earlier.length > req.size;
  } else {
    const later = req.after === undefined ? sorted : sorted.filter((r) => r.id > req.after!);
    items = later.slice(0, req.size);
    hasMore = later.length > req.size;
  }
  const first = items[0];
  const last = items[items.length - 1];
  const afterCursor = last ? encodeCursor(last.id) : null;
  const beforeCursor = first ? encodeCursor(first.id) : null;
  // Paging backwards, has_more speaks of earlier records; the records after this page still exist.
  const moreForward = req.before !== undefined ? items.length > 0 : hasMore;
  return {
    items,
    envelope: {
      meta: { has_more: hasMore, after_cursor: afterCursor, before_cursor: beforeCursor },
      links: {
        next:
          moreForward && afterCursor ? link({ 'page[size]': req.size, 'page[after]': afterCursor }) : null,
        prev: beforeCursor ? link({ 'page[size]': req.size, 'page[before]': beforeCursor }) : null,
      },
    },
  };
}
