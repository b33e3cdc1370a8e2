function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The bodies of a multipart entity (RFC 2046), between its delimiter lines; the preamble and the epilogue
 * are dropped. Used on both sides of OData `$batch`: the ERP sandbox reads requests with it and the ERP
 * adapter reads answers. Without a first delimiter or without the close delimiter it throws what `fail`
 * makes of the reason, each side its own typed error.
 */
export function splitMultipart(body: string, boundary: string, fail: (reason: string) => Error): string[] {
  const b = escapeRegExp(boundary);
  const first = new RegExp(`(?:^|\\r?\\n)--${b}[ \\t]*(--)?[ \\t]*(?:\\r?\\n|$)`).exec(body);
  if (!first) throw fail(`no delimiter line --${boundary.slice(0, 70)}`);
  if (first[1] === '--') return [];
  const delimiter = new RegExp(`\\r?\\n--${b}[ \\t]*(--)?[ \\t]*(?:\\r?\\n|$)`, 'g');
  delimiter.lastIndex = first.index + first[0].length;
  const parts: string[] = [];
  let start = delimiter.lastIndex;
  for (;;) {
    const next = delimiter.exec(body);
    if (!next) throw fail(`the close delimiter --${boundary.slice(0, 70)}-- is missing`);
    parts.push(body.slice(start, next.index));
    if (next[1] === '--') return parts;
    start = delimiter.lastIndex;
  }
}
