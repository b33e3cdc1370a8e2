import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from '../support/temporal.js';
import {
  eventually,
  finishAll,
  onfleetPayload,
  receivedIds,
  signedDispatch,
  startTestShipment,
  startTestWorker,
  testConfig,
} from './support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-crash');

let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
const children: ChildProcess[] = [];
const dirs: string[] = [];
const started: string[] = [];

beforeAll(async () => {
  ({ client, connection } = await connectClient());
  worker = await startTestWorker(temporalAddress(), taskQueue);
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await finishAll(client, started);
  await worker?.stop();
  await connection?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs `tsx src/gateway/main.ts` as its own process and resolves once it answers /healthz. */
async function startGatewayProcess(env: { port: number; dataDir: string; temporalAddress: string }) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/gateway/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      SHIPSYNC_GATEWAY_PORT: String(env.port),
      SHIPSYNC_DATA_DIR: env.dataDir,
      SHIPSYNC_TEMPORAL_ADDRESS: env.temporalAddress,
      SHIPSYNC_LOG_LEVEL: 'warn',
      SHIPSYNC_DATABASE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  child.stderr?.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${env.port}`;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${output}`);
      const res = await fetch(`${url}/healthz`).catch(() => undefined);
      return res?.ok ? true : undefined;
    },
    60_000,
    'gateway process up',
  );
  return {
    url,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

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
