import { randomBytes } from 'node:crypto';
import { splitMultipart } from '../../src/platform/multipart.js';
import { MESSAGES, ODataError } from './odata.js';

/**
 * OData V2 `$batch` bodies as SAP Gateway reads and writes them (MIME multipart/mixed, RFC 2046): an ordered
 * series of retrieve requests and change sets, each request an `application/http` part with
 * `Content-Transfer-Encoding: binary` holding a whole HTTP request (request line, headers, blank line, body).
 * A change set is a nested `multipart/mixed` part. Answers are written with CRLF line endings; requests may
 * use CRLF or bare LF.
 */

/** Most operations (retrieve requests plus changes) one `$batch` request may carry. */
export const MAX_BATCH_OPERATIONS = 1000;

/** One HTTP request inside a batch. */
export interface BatchRequest {
  method: string;
  /** The request target as written: relative to the service root, or an absolute path or URL. */
  url: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  body: string;
  /** The part's `Content-ID`, when given. */
  contentId?: string;
}

/** A retrieve request or a change set, in the order of the batch. */
export type BatchItem =
  { kind: 'retrieve'; request: BatchRequest } | { kind: 'changeset'; requests: BatchRequest[] };

/** One HTTP response inside a batch answer. */
export interface BatchResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
  contentId?: string;
}

/** The answer to a retrieve request or a change set: one response, or one per change when it committed. */
export type BatchAnswer =
  { kind: 'single'; response: BatchResponse } | { kind: 'changeset'; responses: BatchResponse[] };

const CHANGE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'MERGE', 'DELETE']);
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function malformed(message: string): ODataError {
  return new ODataError(400, MESSAGES.badRequest, `Malformed $batch request: ${message}`);
}

/** The boundary parameter of a `multipart/mixed` content type, or undefined for any other content type. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = contentType.split(';');
  if (type?.trim().toLowerCase() !== 'multipart/mixed') return undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let value = param.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (!BOUNDARY.test(value)) throw malformed('the boundary parameter is not a valid MIME boundary');
    return value;
  }
  throw malformed('Content-Type multipart/mixed needs a boundary parameter');
}

/**
 * Splits a MIME part or an HTTP message into its header lines and its body at the first blank line. Without
 * a blank line everything is headers (the line break before a delimiter belongs to the delimiter, so a
 * request without a body may end right after its last header).
 */
function headersAndBody(text: string): { lines: string[]; body: string } {
  if (/^\r?\n/.test(text)) return { lines: [], body: text.replace(/^\r?\n/, '') };
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text.replace(/\r?\n$/, '');
  const body = m ? text.slice(m.index + m[0].length) : '';
  return { lines: head === '' ? [] : head.split(/\r?\n/), body };
}

function parseHeaders(lines: string[], what: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0 || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(line.slice(0, colon)))
      throw malformed(`${what} has a header line that is not "Name: value": ${line.slice(0, 60)}`);
    const name = line.slice(0, colon).toLowerCase();
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** One `application/http` part: the MIME headers, then the embedded request. */
function parseRequestPart(mimeHeaders: Record<string, string>, content: string, where: string): BatchRequest {
  const encoding = mimeHeaders['content-transfer-encoding'];
  if (encoding?.toLowerCase() !== 'binary')
    throw malformed(`${where} needs Content-Transfer-Encoding: binary`);
  const lineEnd = /\r?\n/.exec(content);
  const requestLine = lineEnd ? content.slice(0, lineEnd.index) : content;
  const m = /^([A-Z]+) (\S+) HTTP\/1\.1$/.exec(requestLine);
  if (!m) throw malformed(`${where} does not start with a request line "METHOD url HTTP/1.1"`);
  const rest = lineEnd ? content.slice(lineEnd.index + lineEnd[0].length) : '';
  const { lines, body } = headersAndBody(rest);
  const headers = parseHeaders(lines, where);
  const method = m[1] as string;
  if (method !== 'GET' && !CHANGE_METHODS.has(method))
    throw malformed(`${where} uses method ${method.slice(0, 10)}`);
  const contentId = mimeHeaders['content-id'] ?? headers['content-id'];
  return {
    method,
    url: m[2] as string,
    headers,
    body,
    ...(contentId ? { contentId } : {}),
  };
}

/**
 * Parses a `$batch` request body. Anything that does not follow the format (no boundary, a part that is
 * neither `application/http` nor a change set, a change outside a change set, a retrieve request or a
 * nested change set inside one) is a 400 for the whole batch.
 */
export function parseBatchRequest(contentType: string | undefined, body: unknown): BatchItem[] {
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) throw malformed('send Content-Type: multipart/mixed; boundary=<boundary>');
  if (typeof body !== 'string' || body === '') throw malformed('the body is empty');
  const items: BatchItem[] = [];
  let operations = 0;
  for (const [i, part] of splitMultipart(body, boundary, malformed).entries()) {
    const where = `part ${i + 1}`;
    const { lines, body: content } = headersAndBody(part);
    const mime = parseHeaders(lines, where);
    const type = mime['content-type'] ?? '';
    const changesetBoundary = multipartBoundary(type);
    if (changesetBoundary !== undefined) {
      const requests: BatchRequest[] = [];
      for (const [j, changePart] of splitMultipart(content, changesetBoundary, malformed).entries()) {
        const at = `${where}, change ${j + 1}`;
        const inner = headersAndBody(changePart);
        const innerMime = parseHeaders(inner.lines, at);
        if (multipartBoundary(innerMime['content-type']) !== undefined)
          throw malformed(`${at}: change sets cannot be nested`);
        if (innerMime['content-type']?.split(';')[0]?.trim().toLowerCase() !== 'application/http')
          throw malformed(`${at} needs Content-Type: application/http`);
        const request = parseRequestPart(innerMime, inner.body, at);
        if (!CHANGE_METHODS.has(request.method))
          throw malformed(`${at}: a change set may hold only POST, PUT, PATCH, MERGE and DELETE requests`);
        requests.push(request);
      }
      if (requests.length === 0) throw malformed(`${where}: the change set is empty`);
      operations += requests.length;
      items.push({ kind: 'changeset', requests });
    } else if (type.split(';')[0]?.trim().toLowerCase() === 'application/http') {
      const request = parseRequestPart(mime, content, where);
      if (request.method !== 'GET')
        throw malformed(`${where}: ${request.method} must be inside a change set`);
      operations += 1;
      items.push({ kind: 'retrieve', request });
    } else {
      throw malformed(`${where} needs Content-Type application/http or multipart/mixed (a change set)`);
    }
    if (operations > MAX_BATCH_OPERATIONS)
      throw malformed(`more than ${MAX_BATCH_OPERATIONS} operations in one batch`);
  }
  if (items.length === 0) throw malformed('the batch contains no requests');
  return items;
}

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A fresh boundary in SAP Gateway's style (32 upper-case hex digits after a prefix). */
export function newBoundary(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('hex').toUpperCase()}`;
}

function responsePart(r: BatchResponse): string {
  const mime = ['Content-Type: application/http', 'Content-Length: ###', 'Content-Transfer-Encoding: binary'];
  if (r.contentId) mime.push(`Content-ID: ${r.contentId}`);
  const body = r.body ?? '';
  const headers = Object.entries({
    ...r.headers,
    ...(r.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
  }).map(([k, v]) => `${k}: ${v}`);
  const http = [`HTTP/1.1 ${r.status} ${REASONS[r.status] ?? 'Unknown'}`, ...headers, '', body].join('\r\n');
  return [...mime.map((l) => l.replace('###', String(Buffer.byteLength(http)))), '', http].join('\r\n');
}

/** Writes the answer of a `$batch`: one part per retrieve request or change set, in the request's order. */
export function writeBatchResponse(answers: BatchAnswer[], boundary: string): string {
  const out: string[] = [];
  for (const answer of answers) {
    out.push(`--${boundary}`);
    if (answer.kind === 'single') {
      out.push(responsePart(answer.response));
      continue;
    }
    const cs = newBoundary('changeset');
    const inner = answer.responses.map((r) => `--${cs}\r\n${responsePart(r)}`).join('\r\n');
    const content = `${inner}\r\n--${cs}--`;
    out.push(
      `Content-Type: multipart/mixed; boundary=${cs}\r\nContent-Length: ${Buffer.byteLength(content)}\r\n\r\n${content}`,
    );
  }
  out.push(`--${boundary}--`, '');
  return out.join('\r\n');
}
