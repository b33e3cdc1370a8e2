import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import getPort from 'get-port';
import type { ClockSettings } from '../src/domain/clock.js';
import { apiTokenFor, loadConfig } from '../src/platform/config.js';
import { connectTemporal } from '../src/platform/temporal-client.js';
import { provisionTemporalCli, startDevServer, waitForPort, type DevServer } from './temporal/cli.js';
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
  /** An already running Temporal frontend (e.g. on PostgreSQL); a dev server is started when absent. */
  temporalAddress?: string;
  faults?: { erp?: Partial<FaultSettings>; dispatch?: Partial<FaultSettings>; crm?: Partial<FaultSettings> };
  /** Real milliseconds until simulated 04:00 on the planning day, so the day does not pass while processes boot. */
  startDelayMs?: number;
  /** Extra environment for the worker and gateway processes. */
  env?: Record<string, string>;
  /** Forward the children's standard error lines. */
  showChildOutput?: boolean;
}

/** The running stack: Temporal, three in-process sandboxes, the gateway and worker processes. */
export interface FullStack {
  temporalAddress: string;
  uiUrl?: string;
  server?: DevServer;
  clock: ClockSettings;
  /** The simulated planning day, YYYY-MM-DD. */
  date: string;
  erp: ErpSandbox;
  dispatch: DispatchSandbox;
  crm: CrmSandbox;
  gatewayUrl: string;
  client: Client;
  worker(): ChildProcess;
  gateway(): ChildProcess;
  /** Kills the worker (SIGKILL by default) and starts a new one. */
  restartWorker(signal?: NodeJS.Signals): Promise<void>;
  /** Kills the gateway (SIGKILL by default) and starts a new one on the same port and inbox. */
  restartGateway(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the dev server and starts it again on the same port and SQLite store (dev server only). */
  restartTemporal(downMs?: number): Promise<void>;
  /** Resolves when a worker polls the workflow task queue. */
  waitForWorker(timeoutMs?: number): Promise<void>;
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

/** Starts Temporal (unless given), the sandboxes, the gateway and the worker, wired together over HTTP. */
export async function startFullStack(o: FullStackOptions): Promise<FullStack> {
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
  const stopAll = async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      [...children].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))),
    );
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    let server: DevServer | undefined;
    let temporalAddress = o.temporalAddress;
    let startServer: (() => Promise<DevServer>) | undefined;
    if (!temporalAddress) {
      const cli = await provisionTemporalCli(o.say);
      const serverOptions = {
        cliPath: cli.path,
        port: await freePort(7233),
        uiPort: await freePort(8233),
        namespace: 'default',
        dbFile: resolve(o.dataDir, 'temporal.sqlite'),
        logLevel: 'error' as const,
      };
      startServer = () => startDevServer(serverOptions);
      server = await startServer();
      cleanup.push(() => server?.stop() ?? Promise.resolve());
      temporalAddress = server.address;
      o.say(`temporal dev server ${server.address}, Web UI ${server.uiUrl}`);
    }
    const date = nextPlanningDay();
    const clock: ClockSettings = {
      scale: o.scale,
      anchorRealMs: Date.now() + (o.startDelayMs ?? 25_000),
      anchorSimMs: Date.parse(`${date}T04:00:00Z`),
    };
    const defaults = loadConfig({});
    const gatewayPort = await freePort();
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const [erp, dispatch, crm] = await Promise.all([
      startErpSandbox({
        port: 0,
        seed: o.seed,
        faults: o.faults?.erp,
        releasePushUrl: `${gatewayUrl}/webhooks/erp/releases`,
        releasePushToken: defaults.SHIPSYNC_ERP_WEBHOOK_TOKEN,
      }),
      startDispatchSandbox({
        port: 0,
        seed: o.seed,
        clock,
        faults: o.faults?.dispatch,
        webhookSecret: defaults.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
        simulator: o.simulator,
        planning: { timeLimitMs: 1500 },
        webhooks: SHIPMENT_WEBHOOK_TRIGGERS.map((trigger) => ({
          url: `${gatewayUrl}/webhooks/dispatch`,
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
          rescheduleApiUrl: gatewayUrl,
          apiToken: apiTokenFor(defaults.SHIPSYNC_API_TOKENS, 'agent'),
        },
      }),
    ]);
    cleanup.push(() => Promise.all([erp.close(), dispatch.close(), crm.close()]));
    o.say(`sandboxes: ERP ${erp.url}  dispatch ${dispatch.url}  CRM ${crm.url}`);

    const env = {
      ...process.env,
      SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress,
      SHIPSYNC_ERP_URL: erp.url,
      SHIPSYNC_DISPATCH_URL: dispatch.url,
      SHIPSYNC_CRM_URL: crm.url,
      SHIPSYNC_TIME_SCALE: String(clock.scale),
      SHIPSYNC_CLOCK_ANCHOR_REAL_MS: String(clock.anchorRealMs),
      SHIPSYNC_CLOCK_ANCHOR_SIM: new Date(clock.anchorSimMs).toISOString(),
      SHIPSYNC_GATEWAY_PORT: String(gatewayPort),
      SHIPSYNC_DATA_DIR: o.dataDir,
      SHIPSYNC_LOG_LEVEL: 'warn',
      SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES:
        process.env.SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES ?? String(compressedGraceMinutes(clock.scale)),
      ...o.env,
    };
    const spawnChild = (entry: string, name: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        const text = chunk.toString().trim();
        if (text && o.showChildOutput) o.say(`[${name}] ${text.split('\n')[0]}`);
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
    let gateway = spawnChild('src/gateway/main.ts', 'gateway');
    await waitForPort('127.0.0.1', gatewayPort, 60_000);
    let worker = spawnChild('src/workers/main.ts', 'worker');
    const { client, close } = await connectTemporal({
      SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress,
      SHIPSYNC_TEMPORAL_NAMESPACE: 'default',
    });
    cleanup.push(close);
    const waitForWorker = async (timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await client.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: taskQueues().shipments },
          taskQueueType: 1,
        });
        // A killed worker's poller lingers for a while; a new one shows as a poller seen in the last seconds.
        const fresh = (res.pollers ?? []).some(
          (p) => Date.now() - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < 5000,
        );
        if (fresh) return;
        if (Date.now() > deadline) throw new Error(`no worker polled within ${timeoutMs / 1000} s`);
        await sleep(250);
      }
    };
    await waitForWorker();
    o.say(
      `gateway ${gatewayUrl}, worker polling; simulated ${date} 04:00 starts in ${Math.max(0, Math.round((clock.anchorRealMs - Date.now()) / 1000))} s at ×${clock.scale}`,
    );
    return {
      temporalAddress,
      uiUrl: server?.uiUrl,
      server,
      clock,
      date,
      erp,
      dispatch,
      crm,
      gatewayUrl,
      client,
      worker: () => worker,
      gateway: () => gateway,
      waitForWorker,
      async restartTemporal(downMs = 0) {
        if (!server || !startServer)
          throw new Error('Temporal was started outside the stack; restart it there');
        await server.stop();
        await sleep(downMs);
        server = await startServer();
      },
      async restartWorker(signal = 'SIGKILL') {
        await kill(worker, signal);
        worker = spawnChild('src/workers/main.ts', 'worker');
      },
      async restartGateway(signal = 'SIGKILL') {
        await kill(gateway, signal);
        gateway = spawnChild('src/gateway/main.ts', 'gateway');
        await waitForPort('127.0.0.1', gatewayPort, 60_000);
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
