import { randomBytes } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import {
  DefaultLogger,
  Runtime,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, vi } from 'vitest';
import type { DataConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { ClockSettings } from '../../src/domain/clock.js';
import type { DispatchEvent, DispatchEventType } from '../../src/domain/events.js';
import type { Order } from '../../src/domain/model.js';
import { createCrmAdapter } from '../../src/integrations/crm/adapter.js';
import { createDispatchAdapter } from '../../src/integrations/dispatch/adapter.js';
import { createErpAdapter } from '../../src/integrations/erp/adapter.js';
import { ZipGeocoder } from '../../src/integrations/geo/geocoder.js';
import {
  type CrmSandbox,
  type DispatchSandbox,
  type ErpSandbox,
  type SimulatorSettingsInput,
  startCrmSandbox,
  startDispatchSandbox,
  startErpSandbox,
} from '../../sandbox/index.js';
import { startShipment } from '../../src/platform/shipments.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { createWorkers, type RunningWorkers } from '../../src/workers/workers.js';
import {
  ShipmentSettings,
  shipmentWorkflowId,
  statusQuery,
  type ShipmentStatus,
} from '../../src/workflows/shipment/contract.js';
import type { ShipmentWorkflow } from '../../src/workflows/shipment/workflow.js';
import { temporalAddress } from './temporal.js';
import { dispatchEventFor, sampleOrder } from './fixtures.js';

// Worker lifecycle lines at INFO drown test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
/**
 * The workflow bundle, made once per test file; with a failure converter (an encrypting data converter's)
 * the bundle built with it, as a worker of an encrypting deployment runs it.
 */
export function workflowBundle(failureConverterPath?: string) {
  let bundle = bundles.get(failureConverterPath ?? '');
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)),
      ...(failureConverterPath ? { failureConverterPath } : {}),
    });
    bundles.set(failureConverterPath ?? '', bundle);
  }
  return bundle;
}

/** Simulated time at which every test stack's clock starts: a Tuesday, before the region's 06:00 cutoff. */
export const SIM_START = Date.parse('2026-12-01T05:30:00Z');

/** A delivery id no other test uses, in the ERP's 10-character format. */
export function testDeliveryId(): string {
  return `T${randomBytes(5).toString('hex').toUpperCase().slice(0, 9)}`;
}

/** Everything one test runs against: three sandboxes, workers on the test's own task queues, a client. */
export interface Stack {
  erp: ErpSandbox;
  dispatch: DispatchSandbox;
  crm: CrmSandbox;
  client: Client;
  prefix: string;
  clock: ClockSettings;
  settings: ShipmentSettings;
  workers: RunningWorkers;
  /** The gateway store the workers keep release dead letters and reconciliation reports in (SQLite in a temp folder). */
  store: Store;
  /** The folder of that store: a CLI or gateway with SHIPSYNC_DATA_DIR here shares it. */
  dataDir: string;
  /** Creates the delivery in the ERP and starts its shipment. */
  start(
    overrides?: Partial<Order>,
  ): Promise<{ order: Order; workflowId: string; handle: WorkflowHandle<typeof ShipmentWorkflow> }>;
  /** Polls the status query until `check` holds (or fails after the deadline). */
  waitFor(
    workflowId: string,
    check: (s: ShipmentStatus) => boolean,
    timeoutMs?: number,
  ): Promise<ShipmentStatus>;
  /** A canonical dispatch event for the shipment's current task. */
  event(
    workflowId: string,
    type: DispatchEventType,
    data?: Record<string, unknown>,
    at?: number,
  ): Promise<DispatchEvent>;
  /** Simulated now, epoch ms. */
  simNow(): number;
  /**
   * Stops the workers and the client and starts them again on the same task queues, sandboxes and clock,
   * with another data converter (a new payload keyring): a deployment's restart. `whileDown` runs once
   * the old ones have stopped and before the new ones start.
   */
  restart(dataConverter?: DataConverter, whileDown?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** The identity the stack's workers give Temporal: one per start and restart, so a history tells whose work it holds. */
export function workerIdentity(prefix: string, generation: number): string {
  return `shipsync-test-${prefix}${generation}`;
}

/** Starts a stack; the simulator is off unless asked for, so tests drive the driver's events themselves. */
export async function startStack(
  opts: {
    scale?: number;
    settings?: Partial<ShipmentSettings>;
    simulator?: SimulatorSettingsInput;
    address?: string;
    dataConverter?: DataConverter;
    /** How long the workers keep the ERP's condition records (the adapter's default when absent). */
    priceListTtlMs?: number;
    /** The SDK's workflow stack traces (the workers' default, as the product's, is off). */
    workflowStackTraces?: boolean;
  } = {},
): Promise<Stack> {
  const address = opts.address ?? temporalAddress();
  const clock: ClockSettings = { scale: opts.scale ?? 600, anchorRealMs: Date.now(), anchorSimMs: SIM_START };
  const settings = ShipmentSettings.parse({ noAssignmentGraceMinutes: 24 * 60, ...opts.settings });
  const prefix = `t${randomBytes(4).toString('hex')}-`;
  const [erp, dispatch, crm] = await Promise.all([
    startErpSandbox({ port: 0, seed: 1 }),
    startDispatchSandbox({
      port: 0,
      seed: 1,
      clock,
      simulator: opts.simulator ?? { enabled: false },
      planning: { timeLimitMs: 300 },
    }),
    startCrmSandbox({ port: 0, seed: 1 }),
  ]);
  const storeDir = mkdtempSync(join(tmpdir(), 'shipsync-stack-'));
  const store = await openStore({ backend: 'sqlite', file: join(storeDir, 'gateway.sqlite') });
  let generation = 0;
  const connect = async (dataConverter: DataConverter | undefined) => {
    generation++;
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace: 'default', dataConverter });
    const workers = await createWorkers({
      address,
      namespace: 'default',
      identity: workerIdentity(prefix, generation),
      taskQueuePrefix: prefix,
      clock,
      settings,
      erp: createErpAdapter({
        baseUrl: erp.url,
        ...(opts.priceListTtlMs === undefined ? {} : { priceListTtlMs: opts.priceListTtlMs }),
      }),
      dispatch: createDispatchAdapter({ baseUrl: dispatch.url, apiKey: dispatch.apiKey }),
      crm: createCrmAdapter({ baseUrl: crm.url }),
      geocoder: new ZipGeocoder(),
      bundle: await workflowBundle(dataConverter?.failureConverterPath),
      dataConverter,
      deadLetters: async () => store.deadLetters,
      reconciliationReports: async () => store.reconciliation,
      ...(opts.workflowStackTraces === undefined ? {} : { workflowStackTraces: opts.workflowStackTraces }),
    });
    return { connection, client, workers };
  };
  let { connection, client, workers } = await connect(opts.dataConverter);
  const simNow = () => SIM_START + (Date.now() - clock.anchorRealMs) * clock.scale;
  const sequences = new Map<string, number>();
  const started: string[] = [];
  const stack: Stack = {
    erp,
    dispatch,
    crm,
    store,
    dataDir: storeDir,
    client,
    prefix,
    clock,
    settings,
    workers,
    simNow,
    async start(overrides = {}) {
      const windowStart = SIM_START + 90 * 60_000;
      const order = sampleOrder({
        deliveryId: testDeliveryId(),
        plannedDate: '2026-12-01',
        requestedWindow: {
          start: new Date(windowStart).toISOString(),
          end: new Date(windowStart + 2 * 3600_000).toISOString(),
        },
        ...overrides,
      });
      erp.addDelivery({ order });
      await startShipment(client, order, { clock, settings, taskQueuePrefix: prefix });
      const workflowId = shipmentWorkflowId(order.deliveryId);
      started.push(workflowId);
      return { order, workflowId, handle: client.workflow.getHandle<typeof ShipmentWorkflow>(workflowId) };
    },
    waitFor(workflowId, check, timeoutMs = 30_000) {
      return vi.waitFor(
        async () => {
          const last = await client.workflow.getHandle(workflowId).query(statusQuery);
          if (!check(last))
            throw new Error(`condition not reached in ${timeoutMs} ms; last status: ${JSON.stringify(last)}`);
          return last;
        },
        { timeout: timeoutMs, interval: 100 },
      );
    },
    async event(workflowId, type, data = {}, at) {
      // A query waits for the workflow task under way; on a loaded machine it can time out, and is asked again.
      const status = await vi.waitFor(() => client.workflow.getHandle(workflowId).query(statusQuery), {
        timeout: 60_000,
        interval: 100,
      });
      const seq = (sequences.get(workflowId) ?? 0) + 1;
      sequences.set(workflowId, seq);
      const time = new Date(at ?? simNow()).toISOString();
      return dispatchEventFor({
        workflowId,
        type,
        taskId: status.taskId ?? 'unknown',
        attempt: status.attempts,
        window: status.window,
        sequence: seq,
        time,
        podLocation: { lat: 41.878, lng: -87.636 },
        source: 'test',
        data,
      });
    },
    async restart(dataConverter, whileDown) {
      await workers.shutdown();
      await connection.close();
      await whileDown?.();
      ({ connection, client, workers } = await connect(dataConverter));
      stack.client = client;
      stack.workers = workers;
    },
    async close() {
      if (process.env.SHIPSYNC_RECORD_HISTORIES === '1') await recordHistories(client, started);
      await workers.shutdown();
      await connection.close();
      await Promise.all([erp.close(), dispatch.close(), crm.close()]);
      await store.close();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Writes the histories of a test's closed shipments to test/replay/histories/, named after the test. */
async function recordHistories(client: Client, workflowIds: string[]) {
  const name = (expect.getState().currentTestName ?? 'unnamed')
    .split('>')
    .pop()!
    .trim()
    .replace(/^when /, '')
    .replace(/[^a-z0-9]+/gi, '-')
    .slice(0, 60)
    .replace(/-+$/, '')
    .toLowerCase();
  const dir = fileURLToPath(new URL('../replay/histories/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  for (const [i, id] of workflowIds.entries()) {
    const handle = client.workflow.getHandle(id);
    if ((await handle.describe()).status.name === 'RUNNING') continue;
    const history = await handle.fetchHistory();
    writeFileSync(`${dir}${name}${i ? `-${i}` : ''}.json`, historyToJSON(history));
  }
}
