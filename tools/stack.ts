import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import getPort from 'get-port';
import pg from 'pg';
import type { ClockSettings } from '../src/domain/clock.js';
import { loadConfig, sandboxToken, secret } from '../src/platform/config.js';
import { workerCommand } from './launch.js';
import { connectTemporal } from '../src/platform/temporal-client.js';
import { provisionTemporalCli, startDevServer, waitForPort, type DevServer } from './temporal/cli.js';
import {
  DEFAULT_POSTGRES_TARGET,
  dropPostgresDatabases,
  freeServerPorts,
  provisionTemporalServer,
  setupPostgresSchemas,
  startPostgresServer,
  type PostgresServer,
  type PostgresTarget,
} from './temporal/postgres.js';
import {
  SHIPMENT_WEBHOOK_TRIGGERS,
  startCrmSandbox,
  startDispatchSandbox,
  startErpSandbox,
  type CrmSandbox,
  type DispatchSandbox,
  type ErpSandbox,
  type FaultSettings,
  type SimulatorSettingsInput,
} from '../sandbox/index.js';
import { taskQueues } from '../src/workflows/task-queues.js';
import { PREBUILT_BUNDLE, prebuiltBundleIsFresh, workflowBundleOptions } from '../src/workers/workers.js';

const quietBundleLogger = new DefaultLogger('WARN');

/** How to start the whole stack on one machine. */
export interface FullStackOptions {
  /** Directory for the Temporal store and the gateway inbox; emptied first. */
  dataDir: string;
  scale: number;
  seed: number;
  say: (line: string) => void;
  simulator: SimulatorSettingsInput;
  /** Share of customers who ask for another slot through the gateway's API. */
  rescheduleRate: number;
  /** An already running Temporal frontend (e.g. on PostgreSQL); one of `backend` is started when absent. */
  temporalAddress?: string;
  /**
   * `devserver` (default): the CLI's dev server on SQLite and the gateway inbox in SQLite. `postgres`: Temporal
   * server on PostgreSQL with throwaway databases and the gateway inbox in a throwaway PostgreSQL database, all
   * dropped by `stop()`.
   */
  backend?: StackBackend;
  /** Gateway processes, each on its own port; more than one share a PostgreSQL inbox (default 1). */
  gateways?: number;
  /** Worker processes, each with the workflow and the three activity workers (default 1). */
  workers?: number;
  faults?: { erp?: Partial<FaultSettings>; dispatch?: Partial<FaultSettings>; crm?: Partial<FaultSettings> };
  /** Real milliseconds until simulated 04:00 on the planning day, so the day does not pass while processes boot. */
  startDelayMs?: number;
  /** Extra environment for the worker and gateway processes. */
  env?: Record<string, string>;
  /** Forward the children's standard error lines. */
  showChildOutput?: boolean;
  /**
   * Write the prebuilt workflow bundle (`dist/workflow-bundle.js`, as `npm run build:bundle` does) when it is
   * missing or older than the workflow sources, so every worker start, restarts included, skips bundling.
   */
  prebuildWorkflowBundle?: boolean;
  /** Append each child's standard error to `<dir>/<name>.log` (worker-1.log, gateway-2.log, ...). */
  childLogDir?: string;
  /**
   * Write a V8 CPU profile of each worker and gateway process to `<dir>/<name>/` when it exits
   * (`node --cpu-prof`; a process killed with SIGKILL writes none).
   */
  cpuProfileDir?: string;
}

/** Where Temporal and the gateway inbox keep their state. */
export type StackBackend = 'devserver' | 'postgres';

/** The running stack: Temporal, three in-process sandboxes, the gateway and worker processes. */
export interface FullStack {
  backend: StackBackend;
  temporalAddress: string;
  uiUrl?: string;
  /** The dev server, when the stack started one. */
  server?: DevServer;
  /** The gateways' shared PostgreSQL inbox, when they use one. */
  databaseUrl?: string;
  clock: ClockSettings;
  /** The simulated planning day, YYYY-MM-DD. */
  date: string;
  erp: ErpSandbox;
  dispatch: DispatchSandbox;
  crm: CrmSandbox;
  /** The first gateway's URL. */
  gatewayUrl: string;
  /** Every gateway's URL, in the order of `gateways()`. */
  gatewayUrls: string[];
  client: Client;
  /** The first worker process. */
  worker(): ChildProcess;
  /** The first gateway process. */
  gateway(): ChildProcess;
  workers(): ChildProcess[];
  gateways(): ChildProcess[];
  /** Kills worker `index` (SIGKILL by default) and starts a new one in its place, `downMs` later. */
  restartWorker(signal?: NodeJS.Signals, index?: number, downMs?: number): Promise<void>;
  /** Kills gateway `index` (SIGKILL by default) and starts a new one on the same port and inbox, `downMs` later. */
  restartGateway(signal?: NodeJS.Signals, index?: number, downMs?: number): Promise<void>;
  /** Stops Temporal and starts it again on the same ports and store (only a Temporal the stack started). */
  restartTemporal(downMs?: number): Promise<void>;
  /** Resolves when `count` (default 1) workers polled the workflow task queue in the last seconds. */
  waitForWorker(timeoutMs?: number, count?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 a moment ago: the preferred one when it is free, else one the OS picks. */
export function freePort(preferred?: number): Promise<number> {
  return getPort({ host: '127.0.0.1', port: preferred });
}

/** The first Monday to Thursday after today (UTC), so a reattempt the next day is a weekday too. */
export function nextPlanningDay(now = Date.now()): string {
  let t = now;
  do t += 86_400_000;
  while ([0, 5, 6].includes(new Date(t).getUTCDay()));
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * The no-assignment grace on a compressed clock: planning a region and delivering its assignment webhooks
 * takes real seconds, which the clock multiplies, so the grace covers at least 20 real seconds.
 */
export function compressedGraceMinutes(scale: number, minimum = 60): number {
  return Math.min(24 * 60, Math.max(minimum, Math.ceil((scale * 20) / 60)));
}

/** The grace the stack gives its workers: the environment's, else the compressed one for the scale. */
export function stackGraceMinutes(scale: number): number {
  return Number(process.env.SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES ?? compressedGraceMinutes(scale));
}

/** A throwaway PostgreSQL database name: lower-case, unique per stack. */
function throwawayName(prefix: string): string {
  return `${prefix}_s${randomBytes(4).toString('hex')}`;
}

/** Creates an empty database on the local PostgreSQL and returns its URL. */
async function createDatabase(target: PostgresTarget, name: string): Promise<string> {
  const client = new pg.Client({ ...target, database: 'postgres' });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const auth = target.password
    ? `${encodeURIComponent(target.user)}:${encodeURIComponent(target.password)}`
    : encodeURIComponent(target.user);
  return `postgres://${auth}@${target.host}:${target.port}/${name}`;
}

/** Temporal as the stack runs it: where it listens, how to stop and start it again. */
interface StackTemporal {
  address: string;
  uiUrl?: string;
  dev?: DevServer;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and drops its throwaway databases. */
  dispose(): Promise<void>;
}

/** Starts the dev server (SQLite in dataDir) or Temporal server on throwaway PostgreSQL databases. */
async function startTemporal(o: FullStackOptions, backend: StackBackend): Promise<StackTemporal> {
  const cli = await provisionTemporalCli(o.say);
  if (backend === 'devserver') {
    const serverOptions = {
      cliPath: cli.path,
      port: await freePort(7233),
      uiPort: await freePort(8233),
      namespace: 'default',
      dbFile: resolve(o.dataDir, 'temporal.sqlite'),
      logLevel: 'error' as const,
    };
    let dev = await startDevServer(serverOptions);
    o.say(`temporal dev server ${dev.address}, Web UI ${dev.uiUrl}`);
    return {
      address: dev.address,
      uiUrl: dev.uiUrl,
      get dev() {
        return dev;
      },
      stop: () => dev.stop(),
      start: async () => {
        dev = await startDevServer(serverOptions);
      },
      dispose: () => dev.stop(),
    };
  }
  const binaries = await provisionTemporalServer(o.say);
  const target: PostgresTarget = {
    ...DEFAULT_POSTGRES_TARGET,
    dbName: throwawayName('temporal'),
    visibilityDbName: throwawayName('temporal_vis'),
  };
  const drop = () => dropPostgresDatabases(target, [target.dbName, target.visibilityDbName]);
  try {
    await setupPostgresSchemas(target, binaries, o.say);
    const serverOptions = {
      serverPath: binaries.serverPath,
      cliPath: cli.path,
      ports: await freeServerPorts(),
      db: target,
      setupSchemas: false,
      logLevel: 'error' as const,
      ...(o.childLogDir
        ? (() => {
            const log = createWriteStream(resolve(o.childLogDir, 'temporal-server.log'), { flags: 'a' });
            return { onLog: (line: string) => log.write(`${line}\n`) };
          })()
        : {}),
    };
    let server: PostgresServer | undefined = await startPostgresServer(serverOptions);
    o.say(
      `temporal server on postgresql ${server.address} (databases ${target.dbName}, ${target.visibilityDbName})`,
    );
    return {
      address: server.address,
      stop: async () => {
        await server?.stop();
        server = undefined;
      },
      start: async () => {
        server = await startPostgresServer(serverOptions);
      },
      dispose: async () => {
        await server?.stop();
        server = undefined;
        await drop();
      },
    };
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
}

/**
 * Starts Temporal (unless given), the sandboxes, the gateways and the workers, wired together over HTTP. Several
 * gateways share one PostgreSQL inbox; the dispatch sandbox spreads its webhook triggers over them.
 */
export async function startFullStack(o: FullStackOptions): Promise<FullStack> {
  const backend = o.backend ?? 'devserver';
  const gatewayCount = o.gateways ?? 1;
  const workerCount = o.workers ?? 1;
  if (!Number.isInteger(gatewayCount) || gatewayCount < 1) throw new Error('gateways: expected 1 or more');
  if (!Number.isInteger(workerCount) || workerCount < 1) throw new Error('workers: expected 1 or more');
  rmSync(o.dataDir, { recursive: true, force: true });
  mkdirSync(o.dataDir, { recursive: true });
  const cleanup: (() => Promise<unknown>)[] = [];
  const children = new Set<ChildProcess>();
  // Ctrl-C or a kill of the starting process stops the whole stack first, so no child is left running.
  const onSignal = (signal: NodeJS.Signals) => {
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // A Temporal call still retrying when its connection closes throws from a timer; while the stack stops,
  // that must not end the process before the throwaway databases are dropped.
  const onStrayError = (err: Error) => {
    if (/Channel has been shut down/.test(err.message)) return;
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  };
  // Once stopping, nothing starts a child again (a campaign's watchdog would see the children it stops exit).
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.on('uncaughtException', onStrayError);
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      [...children].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
    );
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    process.off('uncaughtException', onStrayError);
  };
  try {
    if (o.prebuildWorkflowBundle && !prebuiltBundleIsFresh()) {
      const t0 = Date.now();
      const { code } = await bundleWorkflowCode(workflowBundleOptions({ logger: quietBundleLogger }));
      mkdirSync(dirname(PREBUILT_BUNDLE), { recursive: true });
      writeFileSync(PREBUILT_BUNDLE, code);
      o.say(`workflow bundle written to ${PREBUILT_BUNDLE} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    let temporal: StackTemporal | undefined;
    let temporalAddress = o.temporalAddress;
    if (!temporalAddress) {
      temporal = await startTemporal(o, backend);
      const started = temporal;
      cleanup.push(() => started.dispose());
      temporalAddress = temporal.address;
    }
    // More than one gateway needs the PostgreSQL inbox: SQLite has no lock between processes.
    let databaseUrl: string | undefined;
    if (backend === 'postgres' || gatewayCount > 1) {
      const name = throwawayName('shipsync');
      databaseUrl = await createDatabase(DEFAULT_POSTGRES_TARGET, name);
      cleanup.push(() => dropPostgresDatabases(DEFAULT_POSTGRES_TARGET, [name]));
      o.say(`gateway inbox: PostgreSQL database ${name}`);
    }
    const date = nextPlanningDay();
    const clock: ClockSettings = {
      scale: o.scale,
      anchorRealMs: Date.now() + (o.startDelayMs ?? 25_000),
      anchorSimMs: Date.parse(`${date}T04:00:00Z`),
    };
    const defaults = loadConfig({ SHIPSYNC_ENV: 'sandbox' });
    const gatewayPorts: number[] = [];
    for (let i = 0; i < gatewayCount; i++) {
      let port = await freePort();
      while (gatewayPorts.includes(port)) port = await freePort();
      gatewayPorts.push(port);
    }
    const gatewayUrls = gatewayPorts.map((port) => `http://127.0.0.1:${port}`);
    const gatewayUrl = gatewayUrls[0] ?? '';
    const lastGatewayUrl = gatewayUrls[gatewayUrls.length - 1] ?? gatewayUrl;
    const [erp, dispatch, crm] = await Promise.all([
      startErpSandbox({
        port: 0,
        seed: o.seed,
        faults: o.faults?.erp,
        releasePushUrl: `${gatewayUrl}/webhooks/erp/releases`,
        releasePushToken: secret(defaults, 'SHIPSYNC_ERP_WEBHOOK_TOKEN'),
      }),
      startDispatchSandbox({
        port: 0,
        seed: o.seed,
        clock,
        faults: o.faults?.dispatch,
        webhookSecret: secret(defaults, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'),
        simulator: o.simulator,
        planning: { timeLimitMs: 1500 },
        // Trigger i goes to gateway i mod N, so one shipment's events arrive through every gateway.
        webhooks: SHIPMENT_WEBHOOK_TRIGGERS.map((trigger, i) => ({
          url: `${gatewayUrls[i % gatewayUrls.length] ?? gatewayUrl}/webhooks/dispatch`,
          trigger,
        })),
      }),
      startCrmSandbox({
        port: 0,
        seed: o.seed,
        faults: o.faults?.crm,
        customers: {
          rescheduleRate: o.rescheduleRate,
          mode: 'api',
          rescheduleApiUrl: lastGatewayUrl,
          apiToken: sandboxToken('agent'),
        },
      }),
    ]);
    cleanup.push(() => Promise.all([erp.close(), dispatch.close(), crm.close()]));
    o.say(`sandboxes: ERP ${erp.url}  dispatch ${dispatch.url}  CRM ${crm.url}`);

    const env = {
      ...process.env,
      // The stack runs the sandboxes: its gateways and workers use the sandbox profile's secrets and tokens.
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress,
      SHIPSYNC_ERP_URL: erp.url,
      SHIPSYNC_DISPATCH_URL: dispatch.url,
      SHIPSYNC_CRM_URL: crm.url,
      SHIPSYNC_TIME_SCALE: String(clock.scale),
      SHIPSYNC_CLOCK_ANCHOR_REAL_MS: String(clock.anchorRealMs),
      SHIPSYNC_CLOCK_ANCHOR_SIM: new Date(clock.anchorSimMs).toISOString(),
      SHIPSYNC_GATEWAY_PORT: String(gatewayPorts[0]),
      SHIPSYNC_DATA_DIR: o.dataDir,
      SHIPSYNC_LOG_LEVEL: 'warn',
      SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES: String(stackGraceMinutes(clock.scale)),
      // The ops console links each shipment to its run in this stack's Web UI.
      ...(temporal?.uiUrl ? { SHIPSYNC_TEMPORAL_UI_URL: temporal.uiUrl } : {}),
      ...(databaseUrl ? { SHIPSYNC_DATABASE_URL: databaseUrl } : {}),
      ...o.env,
    };
    const spawnChild = (entry: string, name: string, extraEnv: Record<string, string> = {}) => {
      const profile = o.cpuProfileDir
        ? ['--cpu-prof', `--cpu-prof-dir=${resolve(o.cpuProfileDir, name)}`]
        : [];
      const nodeArgs = [...profile, '--import', 'tsx', entry];
      // Workers start through bin/with-jemalloc, as `npm run worker` and the image start them.
      const [command, args] = entry.startsWith('src/workers/')
        ? workerCommand(nodeArgs)
        : [process.execPath, nodeArgs];
      const child = spawn(command, args, {
        env: { ...env, ...extraEnv },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const log = o.childLogDir
        ? createWriteStream(resolve(o.childLogDir, `${name}.log`), { flags: 'a' })
        : undefined;
      child.stderr?.on('data', (chunk: Buffer) => {
        log?.write(chunk);
        const text = chunk.toString().trim();
        if (text && o.showChildOutput) o.say(`[${name}] ${text.split('\n')[0]}`);
      });
      child.once('exit', (code, signal) => {
        log?.end(
          `${new Date().toISOString()} ${name} pid ${child.pid ?? '?'} exited (${signal ?? `code ${code}`})\n`,
        );
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    };
    const kill = async (child: ChildProcess, signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill(signal);
        await exited;
      }
    };
    const startGateway = (i: number) =>
      spawnChild('src/gateway/main.ts', gatewayCount > 1 ? `gateway-${i + 1}` : 'gateway', {
        SHIPSYNC_GATEWAY_PORT: String(gatewayPorts[i]),
      });
    const startWorker = (i: number) =>
      spawnChild('src/workers/main.ts', workerCount > 1 ? `worker-${i + 1}` : 'worker');
    const gateways = gatewayPorts.map((_, i) => startGateway(i));
    await Promise.all(gatewayPorts.map((port) => waitForPort('127.0.0.1', port, 60_000)));
    const workers = Array.from({ length: workerCount }, (_, i) => startWorker(i));
    const { client, close } = await connectTemporal({
      SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress,
      SHIPSYNC_TEMPORAL_NAMESPACE: 'default',
    });
    cleanup.push(close);
    const waitForWorker = async (timeoutMs = 120_000, count = 1) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: taskQueues().shipments },
          taskQueueType: 1,
        });
        // A killed worker's poller lingers for a while; a new one shows as a poller seen in the last seconds.
        const fresh = (res.pollers ?? []).filter(
          (p) => Date.now() - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < 5000,
        );
        if (fresh.length >= count) return;
        if (Date.now() > deadline)
          throw new Error(`${count} worker(s) did not poll within ${timeoutMs / 1000} s`);
        await sleep(250);
      }
    };
    await waitForWorker(120_000, workerCount);
    o.say(
      `${gatewayCount > 1 ? `gateways ${gatewayUrls.join(' ')}` : `gateway ${gatewayUrl}`}, ${workerCount > 1 ? `${workerCount} workers` : 'worker'} polling; simulated ${date} 04:00 starts in ${Math.max(0, Math.round((clock.anchorRealMs - Date.now()) / 1000))} s at ×${clock.scale}`,
    );
    const at = <T>(list: T[], index: number, what: string): T => {
      const item = list[index];
      if (item === undefined) throw new Error(`no ${what} ${index}: the stack runs ${list.length}`);
      return item;
    };
    return {
      backend,
      temporalAddress,
      uiUrl: temporal?.uiUrl,
      get server() {
        return temporal?.dev;
      },
      databaseUrl,
      clock,
      date,
      erp,
      dispatch,
      crm,
      gatewayUrl,
      gatewayUrls,
      client,
      worker: () => at(workers, 0, 'worker'),
      gateway: () => at(gateways, 0, 'gateway'),
      workers: () => [...workers],
      gateways: () => [...gateways],
      waitForWorker,
      async restartTemporal(downMs = 0) {
        if (!temporal) throw new Error('Temporal was started outside the stack; restart it there');
        await temporal.stop();
        await sleep(downMs);
        await temporal.start();
      },
      async restartWorker(signal = 'SIGKILL', index = 0, downMs = 0) {
        await kill(at(workers, index, 'worker'), signal);
        await sleep(downMs);
        if (stopping) return;
        workers[index] = startWorker(index);
      },
      async restartGateway(signal = 'SIGKILL', index = 0, downMs = 0) {
        await kill(at(gateways, index, 'gateway'), signal);
        await sleep(downMs);
        if (stopping) return;
        gateways[index] = startGateway(index);
        await waitForPort('127.0.0.1', at(gatewayPorts, index, 'gateway port'), 60_000);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
