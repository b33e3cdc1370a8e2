import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';

/** Credentials the sandbox accepts (any non-empty pair does). */
export const AUTH = `Basic ${Buffer.from('agent@example.com/token:test-token').toString('base64')}`;

/** One request a capture server received, with its exact body bytes. */
export interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
}

/** A tiny local HTTP server that records every request and answers with what `answer` says. */
export async function captureServer(
  answer: (req: Captured, index: number) => { status: number; body: unknown } = () => ({
    status: 200,
    body: { ok: true },
  }),
) {
  const received: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured: Captured = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawBody: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(captured);
      const { status, body } = answer(captured, received.length - 1);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Polls (vitest's `vi.waitFor`) until `check` returns a value other than undefined, or fails after the deadline. */
export function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (value === undefined) throw new Error(`condition not met within ${timeoutMs} ms`);
      return value;
    },
    { timeout: timeoutMs, interval: 20 },
  );
}

/** Parsed JSON as tests read it: any Zendesk shape, checked by the assertions themselves. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response shapes are what the tests assert
export type Json = any;

/** A JSON request to the sandbox with credentials. */
export async function api(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: AUTH,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
