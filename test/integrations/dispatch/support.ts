import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import axios, { type AxiosInstance } from 'axios';
import type { Job } from '../../../src/domain/model.js';
import { vi } from 'vitest';

/** The API key the dispatch sandbox accepts by default. */
export const API_KEY = 'sandbox-dispatch-key';

/** A raw Onfleet client for the sandbox (no error classification), answering every status. */
export function rawClient(baseUrl: string, apiKey = API_KEY): AxiosInstance {
  return axios.create({
    baseURL: `${baseUrl}/api/v2`,
    auth: { username: apiKey, password: '' },
    validateStatus: () => true,
    timeout: 10_000,
  });
}

/** One webhook POST as the receiver saw it. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  rawBody: string;
  json: { triggerName: string; taskId?: string; time: number; [key: string]: unknown };
  receivedAt: number;
}

/** A local webhook receiver: answers the ?check= handshake as told and records every POST. */
export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** How GET ?check= is answered: echo the value, answer 200 with something else, or 500. */
  handshake: 'echo' | 'wrong' | 'error';
  close(): Promise<void>;
}

/** Starts a webhook receiver on a free local port. */
export async function startReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const receiver: WebhookReceiver = { url: '', received, handshake: 'echo', close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET') {
      const check = url.searchParams.get('check') ?? '';
      if (receiver.handshake === 'error') {
        res.statusCode = 500;
        res.end('no');
      } else {
        res.end(receiver.handshake === 'echo' ? check : `not-${check}`);
      }
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      received.push({
        headers: req.headers,
        rawBody,
        json: JSON.parse(rawBody) as ReceivedWebhook['json'],
        receivedAt: Date.now(),
      });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  receiver.url = `http://127.0.0.1:${port}/onfleet`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}

/** Polls (vitest's `vi.waitFor`) until the check passes or the deadline expires; returns the last value. */
export function waitFor<T>(
  probe: () => T | Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await probe();
      if (!ok(value))
        throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value).slice(0, 500)}`);
      return value;
    },
    { timeout: timeoutMs, interval: 25 },
  );
}

/** A Chicago delivery job; each test passes its own ids. */
export function chicagoJob(overrides: Partial<Job> & Pick<Job, 'shipmentId' | 'deliveryId'>): Job {
  return {
    attempt: 1,
    region: 'CHI',
    location: { lat: 41.8789, lng: -87.6359 },
    address: { street: '233 S Wacker Dr', city: 'Chicago', state: 'IL', postalCode: '60606', country: 'US' },
    recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
    window: { start: '2026-12-01T14:00:00Z', end: '2026-12-01T22:00:00Z' },
    quantity: 2,
    weightKg: 420,
    hazmat: false,
    serviceTimeSeconds: 540,
    instructions: 'Dock 4, call on arrival',
    requirements: [],
    ...overrides,
  };
}
