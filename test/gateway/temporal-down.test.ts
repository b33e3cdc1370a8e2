import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TEMPORAL_CHANNEL_ARGS } from '../../src/gateway/temporal.js';
import { startDevServer, type DevServer } from '../../tools/temporal/cli.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { freePort } from '../support/ports.js';
import { uniqueTaskQueue } from '../support/temporal.js';
import {
  eventually,
  finishAll,
  onfleetPayload,
  receivedIds,
  signedDispatch,
  startTestShipment,
  startTestWorker,
  testConfig,
  testGateway,
} from './support.js';

const OUTAGE_MS = 30_000;
const config = testConfig();
const dir = mkdtempSync(join(tmpdir(), 'shipsync-down-'));
let server: DevServer | undefined;
let store: Store | undefined;

afterAll(async () => {
  await server?.stop();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway while Temporal is down', () => {
  it('when Temporal stops for 30 s then every webhook is still answered 2xx and each accepted event is delivered once after it returns', async () => {
    const cliPath = inject('temporalCliPath');
    const port = await freePort();
    const dbFile = join(dir, 'temporal.sqlite');
    const startServer = () => startDevServer({ cliPath, port, namespace: 'default', dbFile, headless: true });
    server = await startServer();
    const taskQueue = uniqueTaskQueue('gateway-down');
    const connection = Connection.lazy({ address: server.address, channelArgs: TEMPORAL_CHANNEL_ARGS });
    const client = new Client({ connection, namespace: 'default' });
    let worker = await startTestWorker(server.address, taskQueue);
    const shipments = [
      await startTestShipment(client, taskQueue),
      await startTestShipment(client, taskQueue),
      await startTestShipment(client, taskQueue),
    ];
    store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
    const gateway = await testGateway({
      client,
      store,
      config,
      forwarder: { idleMs: 100, baseBackoffMs: 200, maxBackoffMs: 2_000, jitter: 0.2 },
    });
    gateway.forwarder.start();

    const accepted = new Map<string, string[]>(shipments.map((s) => [s, []]));
    const statuses: number[] = [];
    let n = 0;
    const send = async () => {
      const shipmentId = shipments[n % shipments.length]!;
      const req = signedDispatch(
        config,
        onfleetPayload({ shipmentId, trigger: 'taskArrival', time: 1_764_590_400_000 + n++ }),
      );
      const res = await gateway.inject({
        method: 'POST',
        url: '/webhooks/dispatch',
        payload: req.body,
        headers: req.headers,
      });
      statuses.push(res.statusCode);
      if (res.statusCode === 200) accepted.get(shipmentId)!.push(res.json<{ eventId: string }>().eventId);
    };

    for (let i = 0; i < 6; i++) await send();
    await eventually(
      async () => ((await store!.inbox.counts()).delivered === 6 ? true : undefined),
      20_000,
      'delivery before the outage',
    );

    await worker.stop();
    await server.stop();
    const outageEnds = Date.now() + OUTAGE_MS;
    while (Date.now() < outageEnds) {
      await send();
      // Webhooks keep arriving at a steady pace for the whole outage.
      await new Promise((r) => setTimeout(r, 200));
    }
    const backlog = await store.inbox.backlog();
    expect(backlog).toBeGreaterThan(50);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const ready = await gateway.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toMatchObject({ ready: true, store: 'ok', temporal: 'unreachable' });
    const status = await gateway.inject({
      method: 'GET',
      url: `/v1/shipments/${shipments[0]}`,
      headers: { authorization: 'Bearer dev-agent' },
    });
    expect([status.statusCode, status.headers['retry-after']]).toEqual([503, '5']);
    expect(status.json()).toMatchObject({
      code: 'TEMPORAL_UNAVAILABLE',
      message: expect.stringMatching(/^Temporal (could not be reached|did not answer in time)/),
    });

    server = await startServer();
    worker = await startTestWorker(server.address, taskQueue);
    const total = [...accepted.values()].reduce((sum, ids) => sum + ids.length, 0);
    await eventually(
      async () => ((await store!.inbox.counts()).delivered === total ? true : undefined),
      90_000,
      'backlog drained',
    );
    for (const [shipmentId, ids] of accepted) {
      const received = await receivedIds(client, shipmentId);
      expect(new Set(received).size).toBe(received.length);
      expect([...received].sort()).toEqual([...ids].sort());
    }
    expect(await store.inbox.counts()).toEqual({ pending: 0, delivered: total, dead: 0 });
    expect(await store.deadLetters.list()).toEqual([]);

    await gateway.close();
    await finishAll(client, shipments);
    await worker.stop();
    await connection.close();
  }, 180_000);
});
