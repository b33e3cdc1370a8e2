import { randomUUID } from 'node:crypto';
import { ShipsyncError } from '../../domain/errors.js';
import { splitMultipart } from '../../platform/multipart.js';

/**
 * OData V2 `$batch` bodies on the client side: writes the multipart/mixed request (retrieve requests and
 * change sets, CRLF line endings, each request an `application/http` part with
 * `Content-Transfer-Encoding: binary`) and reads the multipart/mixed answer, one entry per retrieve request
 * or change set, each with its own status line, headers and body.
 */

/** Most change sets the adapter puts in one `$batch` (a gateway processes a batch in one work process). */
export const MAX_BATCH_CHANGESETS = 50;

/** One request inside a batch; `url` is relative to the service root. */
export interface BatchRequestPart {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** JSON body, serialised as is. */
  json?: unknown;
  contentId?: string;
}

/** A retrieve request (GET) or a change set of modifying requests, in batch order. */
export type BatchPart = { get: BatchRequestPart } | { changeset: BatchRequestPart[] };

/** One response inside a batch answer. */
export interface BatchPartResponse {
  status: number;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else the text (undefined when empty). */
  data: unknown;
  contentId?: string;
}

/**
 * The answer to one retrieve request or change set: `responses` has one entry per change of a committed
 * change set, or a single entry (the error of a change set that was rolled back, or a retrieve's answer).
 */
export interface BatchPartAnswer {
  responses: BatchPartResponse[];
  /** True when the answer is a multipart change set response (every change committed). */
  committed: boolean;
}

const CRLF = '\r\n';

function requestLines(part: BatchRequestPart): string {
  const body = part.json === undefined ? '' : JSON.stringify(part.json);
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...(part.json === undefined
      ? {}
      : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
    ...part.headers,
  };
  const mime = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (part.contentId) mime.push(`Content-ID: ${part.contentId}`);
  return [
    ...mime,
    '',
    `${part.method} ${part.url} HTTP/1.1`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    '',
    body,
  ].join(CRLF);
}

/** A batch request body and its Content-Type header. */
export function buildBatchRequest(parts: readonly BatchPart[]): { contentType: string; body: string } {
  const boundary = `batch_${randomUUID()}`;
  const out: string[] = [];
  for (const part of parts) {
    out.push(`--${boundary}`);
    if ('get' in part) {
      out.push(requestLines(part.get));
      continue;
    }
    const cs = `changeset_${randomUUID()}`;
    out.push(
      `Content-Type: multipart/mixed; boundary=${cs}`,
      '',
      ...part.changeset.flatMap((change) => [`--${cs}`, requestLines(change)]),
      `--${cs}--`,
    );
  }
  out.push(`--${boundary}--`, '');
  return { contentType: `multipart/mixed; boundary=${boundary}`, body: out.join(CRLF) };
}

function bad(message: string): ShipsyncError {
  return new ShipsyncError('VALIDATION_FAILED', `the ERP's $batch answer is malformed: ${message}`, {
    field: '$batch',
  });
}

function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || contentType.split(';')[0]?.trim().toLowerCase() !== 'multipart/mixed') return undefined;
  const m = /;\s*boundary=("([^"]+)"|[^;\s]+)/i.exec(contentType);
  return m ? (m[2] ?? m[1]) : undefined;
}

/** Header lines (lower-cased names) and the body after the first blank line. */
function split(text: string): { headers: Record<string, string>; body: string } {
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text.replace(/\r?\n$/, '');
  const headers: Record<string, string> = {};
  for (const line of head === '' ? [] : head.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad(`header line without a colon: ${line.slice(0, 60)}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body: m ? text.slice(m.index + m[0].length) : '' };
}

function responsePart(text: string): BatchPartResponse {
  const outer = split(text);
  if (outer.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== 'application/http')
    throw bad('a part is not application/http');
  const lineEnd = /\r?\n/.exec(outer.body);
  const statusLine = lineEnd ? outer.body.slice(0, lineEnd.index) : outer.body;
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(statusLine);
  if (!m) throw bad(`a part has no status line: ${statusLine.slice(0, 60)}`);
  const inner = split(lineEnd ? outer.body.slice(lineEnd.index + lineEnd[0].length) : '');
  const contentId = outer.headers['content-id'] ?? inner.headers['content-id'];
  let data: unknown = inner.body === '' ? undefined : inner.body;
  if (typeof data === 'string' && /json/i.test(inner.headers['content-type'] ?? '')) {
    try {
      data = JSON.parse(data);
    } catch {
      throw bad('a part declared as JSON does not parse');
    }
  }
  return { status: Number(m[1]), headers: inner.headers, data, ...(contentId ? { contentId } : {}) };
}

/** Reads a `$batch` answer: one entry per retrieve request or change set, in the request's order. */
export function parseBatchResponse(contentType: string | undefined, body: unknown): BatchPartAnswer[] {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) throw bad('the Content-Type is not multipart/mixed with a boundary');
  if (typeof body !== 'string') throw bad('the body is not text');
  return splitMultipart(body, boundary, bad).map((part) => {
    const { headers, body: content } = split(part);
    const inner = boundaryOf(headers['content-type']);
    if (inner === undefined) return { responses: [responsePart(part)], committed: false };
    return { responses: splitMultipart(content, inner, bad).map(responsePart), committed: true };
  });
}
