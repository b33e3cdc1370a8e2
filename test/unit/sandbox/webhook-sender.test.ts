import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../sandbox/common/faults.js';
import { WebhookSender } from '../../../sandbox/common/webhooks.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A receiver that records the body of every webhook it gets, in arrival order. */
async function receiver() {
  const bodies: string[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

const hook = (url: string, body: string) => ({ url, body, headers: { 'content-type': 'application/json' } });

describe('sandbox webhook sender', () => {
  it('when a webhook is held back for reordering then it goes out after the next one', async () => {
    const { url, bodies } = await receiver();
    const sender = new WebhookSender(new FaultInjector({ webhookReorderRate: 1 }, 1), { maxHoldMs: 60_000 });
    sender.send(hook(url, '"first"'));
    sender.send(hook(url, '"second"'));
    await sender.drain();
    expect(bodies).toEqual(['"second"', '"first"']);
  });

  it('when the held-back webhook is the last one then it still goes out without another send or a drain', async () => {
    const { url, bodies } = await receiver();
    const sender = new WebhookSender(new FaultInjector({ webhookReorderRate: 1 }, 1), { maxHoldMs: 100 });
    sender.send(hook(url, '"last"'));
    await expect.poll(() => bodies, { timeout: 5_000 }).toEqual(['"last"']);
  });

  it('when one receiver is down then only its webhooks wait, are retried and arrive once it is back, in order', async () => {
    const { url, bodies } = await receiver();
    // A port that refuses connections until a receiver listens on it.
    const later = createServer();
    await new Promise<void>((r) => later.listen(0, '127.0.0.1', r));
    const port = (later.address() as AddressInfo).port;
    await new Promise((r) => later.close(r));
    const downUrl = `http://127.0.0.1:${port}/hook`;
    const sender = new WebhookSender(new FaultInjector({}, 1), {
      baseDelayMs: 50,
      maxDelayMs: 100,
      maxAttempts: 100,
    });
    sender.send(hook(downUrl, '"d1"'));
    sender.send(hook(url, '"u1"'));
    sender.send(hook(downUrl, '"d2"'));
    sender.send(hook(url, '"u2"'));
    // The live receiver gets its webhooks while the other destination keeps failing.
    await expect.poll(() => bodies, { timeout: 5_000 }).toEqual(['"u1"', '"u2"']);
    expect(sender.pending).toBe(2);
    const late: string[] = [];
    const back = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        late.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true}');
      });
    });
    await new Promise<void>((r) => back.listen(port, '127.0.0.1', r));
    try {
      await sender.drain();
      expect(late).toEqual(['"d1"', '"d2"']);
      expect(sender.abandoned).toEqual([]);
      const d1 = sender.log.filter((a) => a.seq === 0);
      expect(d1.filter((a) => a.status === 'error').length).toBeGreaterThan(0);
      expect(d1.at(-1)).toMatchObject({ status: 200, data: { accepted: true } });
    } finally {
      await new Promise((r) => back.close(r));
    }
  });

  it('when a receiver never answers then the webhook is given up after the last attempt and listed', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const sender = new WebhookSender(new FaultInjector({}, 1), { baseDelayMs: 10, maxAttempts: 3 });
    sender.send(hook(`http://127.0.0.1:${port}/hook`, '"x"'));
    await sender.drain();
    expect(sender.log.map((a) => a.status)).toEqual(['error', 'error', 'error']);
    expect(sender.abandoned).toMatchObject([{ seq: 0, attempts: 3, lastStatus: 'error' }]);
  });
});
