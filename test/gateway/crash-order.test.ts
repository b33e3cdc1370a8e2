import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropPostgresSchema } from '../../src/storage/db.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { freePort } from '../support/ports.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from '../support/temporal.js';
import { TEST_PG_URL } from '../unit/storage/backends.js';
import {
  finishAll,
  hangingTemporal,
  killGatewayProcesses,
  onfleetPayload,
  postDispatchHttp,
  receivedIds,
  startGatewayProcess,
  startTestShipment,
  startTestWorker,
  testConfig,
  testGateway,
  type GatewayProcess,
} from './support.js';

/**
 * Receipt order per shipment across a gateway crash: the first event of a shipment is committed by a
 * gateway that is killed while it holds the event's lease (its Temporal hangs), and the shipment's next
 * event goes to another gateway. Both must reach the workflow, first event first.
 */

const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-order');

let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const dirs: string[] = [];
const started: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ({ client, connection } = await connectClient());
  worker = await startTestWorker(temporalAddress(), taskQueue);
});

afterAll(async () => {
  killGatewayProcesses();
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await finishAll(client, started);
  await worker?.stop();
  await connection?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function shipment() {
  const id = await startTestShipment(client, taskQueue);
  started.push(id);
  return id;
}

/** Sends the shipment's first event to a gateway whose Temporal hangs and waits until that gateway holds its lease. */
async function commitFirstEventThenHold(gw: GatewayProcess, reader: Store, shipmentId: string, t0: number) {
  const first = await postDispatchHttp(
    gw.url,
    config,
    onfleetPayload({ shipmentId, trigger: 'taskStarted', time: t0 }),
  );
  expect(first.status).toBe(200);
  const eventId = first.body.eventId!;
  await expect
    .poll(async () => (await reader.inbox.get(eventId))?.leaseOwner ?? '', { timeout: 20_000, interval: 50 })
    .toContain(`:${gw.pid}:`);
  return eventId;
}

describe('receipt order per shipment across a gateway kill -9', () => {
  it('when a gateway is killed holding the lease of a committed event then the next gateway delivers it before the later event it accepts itself (SQLite)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipsync-order-'));
    dirs.push(dataDir);
    const hanging = await hangingTemporal();
    cleanups.push(() => hanging.close());
    const reader = await openStore({ backend: 'sqlite', file: join(dataDir, 'gateway.sqlite') });
    cleanups.push(() => reader.close());
    const shipmentId = await shipment();
    const t0 = Date.now();

    const port = await freePort();
    const doomed = await startGatewayProcess({ port, dataDir, temporalAddress: hanging.address });
    const firstId = await commitFirstEventThenHold(doomed, reader, shipmentId, t0);
    await doomed.kill9();

    const next = await startGatewayProcess({ port, dataDir, temporalAddress: temporalAddress() });
    const second = await postDispatchHttp(
      next.url,
      config,
      onfleetPayload({ shipmentId, trigger: 'taskCompleted', time: t0 + 1000 }),
    );
    expect(second.status).toBe(200);
    await expect
      .poll(() => receivedIds(client, shipmentId), { timeout: 60_000, interval: 100 })
      .toHaveLength(2);
    expect(await receivedIds(client, shipmentId)).toEqual([firstId, second.body.eventId]);
    expect(await next.terminate()).toBe(0);
  }, 120_000);

  it('when one of two gateways sharing a PostgreSQL inbox is killed holding a lease then the other delivers that event before the later one', async () => {
    const schema = `t_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const survivorStore = await openStore({ backend: 'postgres', url: TEST_PG_URL, schema, poolSize: 4 });
    cleanups.push(() => dropPostgresSchema(TEST_PG_URL, schema));
    cleanups.push(() => survivorStore.close());
    const survivor = await testGateway({ client, store: survivorStore, config });
    cleanups.push(() => survivor.close());
    await survivor.listen({ host: '127.0.0.1', port: 0 });
    const survivorUrl = `http://127.0.0.1:${(survivor.server.address() as { port: number }).port}`;
    const hanging = await hangingTemporal();
    cleanups.push(() => hanging.close());
    const url = new URL(TEST_PG_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const doomed = await startGatewayProcess({
      port: await freePort(),
      databaseUrl: url.toString(),
      temporalAddress: hanging.address,
    });
    const shipmentId = await shipment();
    const t0 = Date.now();

    const firstId = await commitFirstEventThenHold(doomed, survivorStore, shipmentId, t0);
    // Both gateways now claim from the one inbox.
    survivor.forwarder.start();
    await doomed.kill9();
    const second = await postDispatchHttp(
      survivorUrl,
      config,
      onfleetPayload({ shipmentId, trigger: 'taskCompleted', time: t0 + 1000 }),
    );
    expect(second.status).toBe(200);
    await expect
      .poll(() => receivedIds(client, shipmentId), { timeout: 60_000, interval: 100 })
      .toHaveLength(2);
    expect(await receivedIds(client, shipmentId)).toEqual([firstId, second.body.eventId]);
  }, 120_000);
});
