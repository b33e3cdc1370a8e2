import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from '../support/temporal.js';
import {
  eventually,
  finishAll,
  killGatewayProcesses,
  onfleetPayload,
  receivedIds,
  signedDispatch,
  startGatewayProcess,
  startTestShipment,
  startTestWorker,
  testConfig,
} from './support.js';

const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-crash');

let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const dirs: string[] = [];
const started: string[] = [];

beforeAll(async () => {
  ({ client, connection } = await connectClient());
  worker = await startTestWorker(temporalAddress(), taskQueue);
});

afterAll(async () => {
  killGatewayProcesses();
  await finishAll(client, started);
  await worker?.stop();
  await connection?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function postWebhook(url: string, shipmentId: string): Promise<{ status: number; eventId: string }> {
  const req = signedDispatch(config, onfleetPayload({ shipmentId, trigger: 'taskArrival' }));
  const res = await fetch(`${url}/webhooks/dispatch`, {
    method: 'POST',
    body: req.body,
    headers: req.headers,
  });
  const body = (await res.json()) as { eventId: string };
  return { status: res.status, eventId: body.eventId };
}

describe('gateway process killed with SIGKILL', () => {
  it('when the gateway is killed right after answering 2xx then the restarted gateway delivers that event once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipsync-crash-'));
    dirs.push(dataDir);
    const shipmentId = await startTestShipment(client, taskQueue);
    started.push(shipmentId);
    const port = await freePort();
    const first = await startGatewayProcess({ port, dataDir, temporalAddress: temporalAddress() });
    const { status, eventId } = await postWebhook(first.url, shipmentId);
    expect(status).toBe(200);
    await first.kill9();

    const second = await startGatewayProcess({ port, dataDir, temporalAddress: temporalAddress() });
    expect(
      await eventually(
        async () =>
          (await receivedIds(client, shipmentId)).length > 0 ? receivedIds(client, shipmentId) : undefined,
        60_000,
      ),
    ).toEqual([eventId]);
    expect(await second.terminate()).toBe(0);
  });

  it('when the gateway is killed before it could reach Temporal then the event waits in the inbox file and is delivered after the restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'shipsync-crash-'));
    dirs.push(dataDir);
    const shipmentId = await startTestShipment(client, taskQueue);
    started.push(shipmentId);
    const port = await freePort();
    const unreachable = `127.0.0.1:${await freePort()}`;
    const first = await startGatewayProcess({ port, dataDir, temporalAddress: unreachable });
    const { status, eventId } = await postWebhook(first.url, shipmentId);
    expect(status).toBe(200);
    const ready = (await (await fetch(`${first.url}/readyz`)).json()) as {
      temporal: string;
      backlog: number;
    };
    expect(ready).toMatchObject({ temporal: 'unreachable', backlog: 1 });
    await first.kill9();
    expect(await receivedIds(client, shipmentId)).toEqual([]);

    const second = await startGatewayProcess({ port, dataDir, temporalAddress: temporalAddress() });
    expect(
      await eventually(
        async () =>
          (await receivedIds(client, shipmentId)).length > 0 ? receivedIds(client, shipmentId) : undefined,
        60_000,
      ),
    ).toEqual([eventId]);
    expect(await second.terminate()).toBe(0);
  });
});
