import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { Order } from '../../src/domain/model.js';
import { signZendeskWebhook } from '../../src/integrations/crm/signature.js';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { deliveryFromOrder } from '../../src/integrations/erp/mappers.js';
import { loadConfig, sandboxToken, secret, type Config, type Role } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/app.js';
import { openStore, type Store } from '../../src/storage/store.js';
import {
  shipmentWorkflowId,
  ShipmentSettings,
  type ShipmentInput,
} from '../../src/workflows/shipment/contract.js';
import { SA } from '../../src/workflows/shipment/search-attributes.js';
import { sampleOrder } from '../support/fixtures.js';
import { connectClient, temporalAddress, uniqueId } from '../support/temporal.js';
import { finishSignal, receivedEventIdsQuery } from './workflows/shipment.js';

/** Configuration of the sandbox profile with defaults; secrets and tokens are the documented sandbox ones. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_LOG_LEVEL: 'silent', ...overrides });
}

/** A logger that writes nothing (set SHIPSYNC_TEST_LOG=debug to see the gateway's lines). */
export const quietLogger = createLogger({
  level: process.env.SHIPSYNC_TEST_LOG ?? 'silent',
  name: 'gateway-test',
});

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The stand-in ShipmentWorkflow bundle, made once per test file. */
export function testWorkflowBundle() {
  bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('./workflows/shipment.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

let runtimeInstalled = false;

/** A worker for the stand-in workflow on its own task queue; `stop()` shuts it down and closes its connection. */
export async function startTestWorker(address: string, taskQueue: string) {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    // Worker state changes are logged at INFO; the gateway tests only need warnings.
    Runtime.install({ logger: new DefaultLogger('WARN') });
  }
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowBundle: await testWorkflowBundle(),
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** A released order with a delivery id no other test uses. */
export function testOrder(overrides: Partial<Order> = {}): Order {
  const start = Date.now() + 2 * 24 * 3600_000;
  return sampleOrder({
    deliveryId: uniqueId('G').slice(0, 20),
    requestedWindow: {
      start: new Date(start).toISOString(),
      end: new Date(start + 4 * 3600_000).toISOString(),
    },
    ...overrides,
  });
}

/** Starts the stand-in ShipmentWorkflow for an order on a test task queue; returns its workflow id. */
export async function startTestShipment(
  client: Client,
  taskQueue: string,
  order: Order = testOrder(),
  workflowType: 'ShipmentWorkflow' | 'ClosingShipmentWorkflow' = 'ShipmentWorkflow',
): Promise<string> {
  const workflowId = shipmentWorkflowId(order.deliveryId);
  const input: ShipmentInput = {
    order,
    clock: { scale: 1, anchorRealMs: 0, anchorSimMs: 0 },
    settings: ShipmentSettings.parse({}),
    taskQueuePrefix: '',
  };
  await client.workflow.start(workflowType, {
    workflowId,
    taskQueue,
    args: [input],
    typedSearchAttributes: [
      { key: SA.ShipmentStatus, value: 'released' },
      { key: SA.Region, value: order.region },
      { key: SA.CustomerId, value: order.customerId },
      { key: SA.DeliveryDate, value: new Date(`${order.plannedDate}T00:00:00Z`) },
    ],
  });
  return workflowId;
}

/** Event ids the stand-in workflow received, duplicates included. */
export async function receivedIds(client: Client, workflowId: string): Promise<string[]> {
  return client.workflow.getHandle(workflowId).query(receivedEventIdsQuery);
}

/** Ends stand-in workflows (ignoring ones already gone). */
export async function finishAll(client: Client, workflowIds: string[]) {
  await Promise.all(
    workflowIds.map((id) =>
      client.workflow
        .getHandle(id)
        .signal(finishSignal)
        .catch(() => undefined),
    ),
  );
}

/** Polls until `check` returns a value other than undefined, or fails with the last value after the deadline. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} not reached in ${timeoutMs} ms${lastError instanceof Error ? `: ${lastError.message}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Onfleet trigger ids by name, as Onfleet numbers them. */
const TRIGGER_IDS: Record<string, number> = {
  taskStarted: 0,
  taskEta: 1,
  taskArrival: 2,
  taskCompleted: 3,
  taskFailed: 4,
  taskAssigned: 9,
  taskDelayed: 12,
};

/** An Onfleet webhook payload about the task of a shipment. */
export function onfleetPayload(opts: {
  shipmentId: string;
  trigger?: string;
  time?: number;
  taskId?: string;
  workerId?: string;
  eta?: number;
  completeBefore?: number;
}): Record<string, unknown> {
  const trigger = opts.trigger ?? 'taskArrival';
  const taskId = opts.taskId ?? `tsk${opts.shipmentId.slice(-12)}`;
  const workerId = opts.workerId ?? 'wrk-1';
  const time = opts.time ?? Date.now();
  return {
    triggerId: TRIGGER_IDS[trigger] ?? 99,
    triggerName: trigger,
    taskId,
    time,
    workerId,
    adminId: null,
    data: {
      task: {
        id: taskId,
        worker: workerId,
        completeBefore: opts.completeBefore ?? time + 3600_000,
        ...(opts.eta !== undefined ? { estimatedArrivalTime: opts.eta } : {}),
        metadata: [
          { name: 'shipmentId', type: 'string', value: opts.shipmentId, visibility: ['api'] },
          { name: 'attempt', type: 'number', value: 1, visibility: ['api'] },
        ],
        destination: { location: [-87.636, 41.878] },
        ...(trigger === 'taskCompleted' || trigger === 'taskFailed'
          ? {
              completionDetails: {
                success: trigger === 'taskCompleted',
                time,
                ...(trigger === 'taskCompleted'
                  ? { signatureUploadId: 'sig-1', photoUploadIds: ['ph-1'] }
                  : { failureReason: 'NOT_AVAILABLE' }),
                lastLocation: [-87.636, 41.878],
                distance: 18_400,
              },
            }
          : {}),
      },
      worker: { id: workerId, location: [-87.64, 41.88] },
    },
  };
}

/** A signed dispatch webhook request for `app.inject` or fetch. */
export function signedDispatch(
  config: Config,
  payload: unknown,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-onfleet-signature': signOnfleetWebhook(secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'), body),
    },
  };
}

/** A Zendesk reschedule webhook body for a shipment. */
export function zendeskRescheduleBody(
  shipmentId: string,
  window: { start: string; end: string },
  id = uniqueId('zd'),
): Record<string, unknown> {
  return {
    type: 'zen:event-type:ticket.reschedule_requested',
    account_id: 1,
    id,
    time: new Date().toISOString(),
    zendesk_event_version: '2022-11-06',
    subject: 'zen:ticket:4321',
    detail: { id: '4321', external_id: shipmentId },
    event: { requested_window: window },
  };
}

/** A signed Zendesk webhook request. */
export function signedCrm(config: Config, payload: unknown, timestamp = new Date().toISOString()) {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-zendesk-webhook-signature': signZendeskWebhook(
        secret(config, 'SHIPSYNC_CRM_WEBHOOK_SECRET'),
        timestamp,
        body,
      ),
      'x-zendesk-webhook-signature-timestamp': timestamp,
    },
  };
}

/** The ERP release push for an order: the OData delivery header in the `d` wrapper, with the bearer token. */
export function erpPush(config: Config, order: Order) {
  return {
    body: JSON.stringify({ d: deliveryFromOrder(order) }),
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${secret(config, 'SHIPSYNC_ERP_WEBHOOK_TOKEN')}`,
    },
  };
}

/** Bearer header for a role's development token (the sandbox profile's principal holding the role). */
export function asRole(role: Role, nth = 0): Record<string, string> {
  return { authorization: `Bearer ${sandboxToken(role, nth)}` };
}

/** A gateway for tests: quiet, no process metrics, fast retries. */
export async function testGateway(
  opts: { client: Client; store: Store; config?: Config } & Partial<GatewayOptions>,
): Promise<Gateway> {
  return createGateway({
    config: opts.config ?? testConfig(),
    logger: quietLogger,
    defaultMetrics: false,
    ...opts,
    forwarder: { idleMs: 50, baseBackoffMs: 100, maxBackoffMs: 1_000, jitter: 0, ...opts.forwarder },
  });
}

/** A running gateway over its own SQLite inbox, with the stand-in workflow's worker on the test's queue. */
export type GatewayFixture = Awaited<ReturnType<typeof gatewayFixture>>;

/** Starts a client, the stand-in worker, a store in a temp folder and a gateway; `close` undoes all of it. */
export async function gatewayFixture(opts: {
  name: string;
  taskQueue: string;
  config: Config;
  store?: { synchronous?: 'NORMAL' | 'FULL' };
  gateway?: Partial<GatewayOptions>;
}) {
  const { client, connection } = await connectClient();
  const worker = await startTestWorker(temporalAddress(), opts.taskQueue);
  const dir = mkdtempSync(join(tmpdir(), `shipsync-${opts.name}-`));
  const store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite'), ...opts.store });
  const gateway = await testGateway({ client, store, config: opts.config, ...opts.gateway });
  return {
    client,
    store,
    gateway,
    /** Finishes the given shipments, then stops everything and removes the temp folder. */
    async close(shipments: string[]) {
      await finishAll(client, shipments);
      await gateway.close();
      await store.close();
      await worker.stop();
      await connection.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A gateway running as its own process (`node --import tsx src/gateway/main.ts`). */
export interface GatewayProcess {
  url: string;
  pid: number;
  /** The last few kB of its output. */
  output(): string;
  /** `kill -9`: no shutdown hook runs. */
  kill9(): Promise<void>;
  /** SIGTERM; resolves with the exit code. */
  terminate(): Promise<number | null>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const processes: ChildProcess[] = [];

/** Starts the gateway entry point as a child process and resolves once it answers /healthz. */
export async function startGatewayProcess(opts: {
  port: number;
  temporalAddress: string;
  dataDir?: string;
  databaseUrl?: string;
  env?: Record<string, string>;
}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/gateway/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_GATEWAY_PORT: String(opts.port),
      SHIPSYNC_DATA_DIR: opts.dataDir ?? mkdtempSync(join(tmpdir(), 'shipsync-gwp-')),
      SHIPSYNC_TEMPORAL_ADDRESS: opts.temporalAddress,
      SHIPSYNC_LOG_LEVEL: 'warn',
      SHIPSYNC_DATABASE_URL: opts.databaseUrl ?? '',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  processes.push(child);
  let output = '';
  const keep = (b: Buffer) => (output = (output + b.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${opts.port}`;
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
    pid: child.pid!,
    output: () => output,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async terminate() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Kills every gateway process a test file started that still runs (for afterAll). */
export function killGatewayProcesses() {
  for (const child of processes)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * A TCP address that accepts connections and never answers: a Temporal frontend that hangs. A gateway
 * pointed at it holds its claimed rows until its call's deadline.
 */
export async function hangingTemporal(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Posts a signed dispatch webhook over HTTP; returns the status and body. */
export async function postDispatchHttp(
  url: string,
  config: Config,
  payload: unknown,
): Promise<{ status: number; body: { eventId?: string; code?: string } }> {
  const req = signedDispatch(config, payload);
  const res = await fetch(`${url}/webhooks/dispatch`, {
    method: 'POST',
    body: req.body,
    headers: req.headers,
  });
  return { status: res.status, body: (await res.json()) as { eventId?: string; code?: string } };
}
