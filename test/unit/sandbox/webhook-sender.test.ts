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
});
