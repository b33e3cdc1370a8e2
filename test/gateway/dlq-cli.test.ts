import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway/app.js';
import { registerDlqCommands } from '../../src/starters/dlq.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { connectClient } from '../support/temporal.js';
import { testConfig, testGateway } from './support.js';

class BadInput extends Error {}

let client: Client;
let connection: Connection;
let store: Store;
let gateway: Gateway;
let dir: string;
let url: string;

beforeAll(async () => {
  ({ client, connection } = await connectClient());
  dir = mkdtempSync(join(tmpdir(), 'shipsync-dlq-'));
  store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
  gateway = await testGateway({ client, store });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await gateway?.close();
  await store?.close();
  await connection?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `shipsync <args>` with the dlq commands; returns the printed text or the bad-input error. */
async function run(...args: string[]): Promise<{ out: string; error?: Error }> {
  const lines: string[] = [];
  const program = new Command('shipsync')
    .option('--json')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerDlqCommands(program, {
    config: () => testConfig(),
    out: (t) => lines.push(t),
    usageError: (m) => new BadInput(m),
  });
  try {
    await program.parseAsync(['dlq', '--url', url, ...args], { from: 'user' });
    return { out: lines.join('\n') };
  } catch (error) {
    return { out: lines.join('\n'), error: error as Error };
  }
}

async function deliveryLetter(eventId: string) {
  await store.inbox.insert({
    eventId,
    source: 'dispatch',
    type: 'stop.arrived.v1',
    shipmentId: 'shipment-CLI1',
    payload: { id: eventId },
    headers: { 'x-onfleet-signature': 'ab' },
    receivedAt: new Date().toISOString(),
  });
  const [row] = await store.inbox.claimBatch('cli-test', 1, 60_000);
  return (await store.inbox.moveToDeadLetter(row!.id, 'cli-test', {
    code: 'EVENT_UNKNOWN_SHIPMENT',
    reason: 'no open shipment workflow shipment-CLI1',
  }))!;
}

describe('shipsync dlq', () => {
  it('when an operator lists, shows and replays a dead letter then the gateway requeues it once', async () => {
    const id = await deliveryLetter('evt-cli-1');
    const list = await run('list');
    expect(list.error).toBeUndefined();
    expect(list.out).toContain(`#${id}`);
    expect(list.out).toContain('EVENT_UNKNOWN_SHIPMENT');
    expect(list.out).toContain('stop.arrived.v1 evt-cli-1 (shipment-CLI1)');

    const shown = await run('show', String(id), '--json');
    expect(JSON.parse(shown.out)).toMatchObject({
      id,
      eventId: 'evt-cli-1',
      headers: { 'x-onfleet-signature': 'ab' },
    });

    const r1 = await run('replay', String(id));
    expect(r1.error).toBeUndefined();
    expect(r1.out).toBe(`#${id} requeued: evt-cli-1`);
    expect((await run('replay', String(id))).out).toBe(`#${id} already replayed: evt-cli-1`);
    expect(await store.inbox.get('evt-cli-1')).toMatchObject({ status: 'pending', attempts: 0 });
    const replayed = await run('list', '--status', 'replayed', '--json');
    expect(JSON.parse(replayed.out).deadLetters.map((d: { id: number }) => d.id)).toContain(id);
  });

  it('when an operator discards a letter then it is no longer open', async () => {
    const id = await deliveryLetter('evt-cli-2');
    expect((await run('discard', String(id))).out).toBe(`#${id} discarded`);
    expect((await store.deadLetters.get(id))?.status).toBe('discarded');
    const again = await run('replay', String(id));
    expect(again.error).toBeInstanceOf(BadInput);
    expect(again.error?.message).toMatch(/^DEAD_LETTER_NOT_OPEN: /);
  });

  it('when the input is bad then the command fails with one line and no request changes anything', async () => {
    const notANumber = await run('show', 'abc');
    expect(notANumber.error).toBeInstanceOf(BadInput);
    expect(notANumber.error?.message).toBe('a dead letter id is a positive integer, got "abc"');
    const missing = await run('show', '99999999');
    expect(missing.error?.message).toMatch(/^DEAD_LETTER_NOT_FOUND: /);
    const wrongToken = await run('--token', 'dev-agent', 'list');
    expect(wrongToken.error?.message).toMatch(/^FORBIDDEN: /);
    const badStatus = await run('list', '--status', 'closed');
    expect(badStatus.error?.message).toMatch(/argument 'closed' is invalid/);
  });
});
