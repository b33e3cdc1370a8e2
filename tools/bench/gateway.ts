import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Client, Connection } from '@temporalio/client';
import { Option } from 'commander';
import { createGateway } from '../../src/gateway/app.js';
import { TEMPORAL_CHANNEL_ARGS } from '../../src/gateway/temporal.js';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { newCommand, numberIn, runMain, sandboxEntryPoint } from '../../src/platform/command.js';
import { loadConfig, secret } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { dropPostgresSchema } from '../../src/storage/db.js';
import { openStore, type DatabaseTarget } from '../../src/storage/store.js';
import { cpuSeconds, machineCpuSeconds } from './measure.js';

/**
 * `npm run bench:gateway -- [--events N] [--concurrency C] [--backend sqlite|postgres] [--cpu-prof FILE] [--json]`
 * Sends N signed Onfleet webhooks at concurrency C to an in-process gateway and reports how fast they are
 * accepted (committed to the inbox and answered 200), the latency percentiles and the CPU each side spent
 * per webhook (Linux). The load generator runs on a thread of its own, with `node:http`, so the gateway's
 * event loop is the gateway's alone, as in production. The
 * forwarder is off unless `--temporal <address>` names a Temporal frontend to deliver to. `--cpu-prof`
 * writes a V8 CPU profile of the gateway's thread over the measured part (`npm run profile:top` reads it).
 */

interface Options {
  events: number;
  concurrency: number;
  backend: 'sqlite' | 'postgres';
  databaseUrl: string;
  temporal?: string;
  sqliteSync: 'FULL' | 'NORMAL';
  cpuProfile?: string;
  json: boolean;
}

/** The command line of `npm run bench:gateway`. */
function command() {
  return newCommand('bench-gateway')
    .description(
      'signed Onfleet webhooks at a concurrency into an in-process gateway; acceptance rate and latency',
    )
    .option('--events <n>', 'webhooks to send', numberIn('--events', 1, 1_000_000, true), 5000)
    .option('--concurrency <c>', 'requests in flight', numberIn('--concurrency', 1, 1024, true), 32)
    .addOption(
      new Option('--backend <kind>', 'inbox store').choices(['sqlite', 'postgres']).default('sqlite'),
    )
    .option('--database-url <url>', 'PostgreSQL URL (default: SHIPSYNC_DATABASE_URL)')
    .option('--temporal <address>', 'deliver to this Temporal frontend (the forwarder is off without it)')
    .addOption(
      new Option('--sqlite-sync <mode>', 'SQLite synchronous pragma')
        .choices(['full', 'normal'])
        .default('full'),
    )
    .option('--cpu-prof <file>', "write a V8 CPU profile of the gateway's thread over the measured part")
    .option('--json', 'print JSON instead of a table')
    .allowExcessArguments(false)
    .action(
      async (v: {
        events: number;
        concurrency: number;
        backend: 'sqlite' | 'postgres';
        databaseUrl?: string;
        temporal?: string;
        sqliteSync: 'full' | 'normal';
        cpuProf?: string;
        json?: boolean;
      }) => {
        process.exitCode = await run({
          events: v.events,
          concurrency: v.concurrency,
          backend: v.backend,
          databaseUrl:
            v.databaseUrl ?? process.env.SHIPSYNC_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
          ...(v.temporal ? { temporal: v.temporal } : {}),
          sqliteSync: v.sqliteSync === 'normal' ? 'NORMAL' : 'FULL',
          ...(v.cpuProf ? { cpuProfile: resolve(v.cpuProf) } : {}),
          json: v.json === true,
        });
      },
    );
}

/** One pass of the load thread (`gateway-load.mjs`): what it sends, and what it measured. */
interface LoadJob {
  url: string;
  hooks: { body: string; signature: string }[];
  concurrency: number;
}
interface LoadResult {
  latencies: number[];
  statuses: Record<string, number>;
  elapsedMs: number;
  /** The load thread's `/proc` entry, `<pid>/task/<tid>` (Linux). */
  thread?: string;
}

/** The value at quantile q of sorted numbers. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** One Onfleet taskArrival webhook for shipment `s`, unique by its time. */
function webhook(secret: string, s: number, time: number) {
  const shipmentId = `shipment-BENCH${String(s).padStart(6, '0')}`;
  const taskId = `benchtask${s}`;
  const body = JSON.stringify({
    triggerId: 2,
    triggerName: 'taskArrival',
    taskId,
    time,
    workerId: 'wrk-bench',
    data: {
      task: {
        id: taskId,
        worker: 'wrk-bench',
        completeBefore: time + 3600_000,
        metadata: [
          { name: 'shipmentId', type: 'string', value: shipmentId, visibility: ['api'] },
          { name: 'attempt', type: 'number', value: 1, visibility: ['api'] },
        ],
        destination: { location: [-87.636, 41.878] },
      },
      worker: { id: 'wrk-bench', location: [-87.64, 41.88] },
    },
  });
  return { body, signature: signOnfleetWebhook(secret, body) };
}

/** Runs the bench; returns the exit code. */
async function run(o: Options): Promise<number> {
  const config = loadConfig({ ...process.env, SHIPSYNC_LOG_LEVEL: 'silent' });
  const logger = createLogger({ level: 'silent' });
  const dir = mkdtempSync(join(tmpdir(), 'shipsync-bench-'));
  const schema = `bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const target: DatabaseTarget =
    o.backend === 'postgres'
      ? { backend: 'postgres', url: o.databaseUrl, schema, poolSize: Math.min(20, o.concurrency) }
      : { backend: 'sqlite', file: join(dir, 'gateway.sqlite'), synchronous: o.sqliteSync };
  const store = await openStore(target);
  // Without --temporal the connection is never used: the forwarder stays off and only intake is measured.
  const connection = Connection.lazy({
    address: o.temporal ?? '127.0.0.1:1',
    channelArgs: TEMPORAL_CHANNEL_ARGS,
  });
  const client = new Client({ connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE });
  const gateway = await createGateway({
    config,
    client,
    store,
    logger,
    defaultMetrics: false,
    backlogLimit: Number.MAX_SAFE_INTEGER,
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  if (o.temporal) gateway.forwarder.start();
  const url = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}/webhooks/dispatch`;

  const webhookSecret = secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET');
  const t0 = Date.now();
  const warmup = Math.min(500, Math.ceil(o.events / 10));
  const make = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => webhook(webhookSecret, (from + i) % 1000, t0 + from + i));
  const loader = new Worker(new URL('./gateway-load.mjs', import.meta.url));
  /** Sends the webhooks from the load thread over `concurrency` keep-alive connections. */
  const blast = async (hooks: LoadJob['hooks']): Promise<LoadResult> => {
    // `once` also rejects if the thread fails, and leaves no listener behind.
    const answered = once(loader, 'message');
    loader.postMessage({ url, hooks, concurrency: o.concurrency } satisfies LoadJob);
    const [m] = (await answered) as [{ ok: true; result: LoadResult } | { ok: false; error: string }];
    if (!m.ok) throw new Error(`load generator: ${m.error}`);
    return m.result;
  };

  // Warm-up (JIT, keep-alive connections, database caches), not counted.
  const { thread: loadThread } = await blast(make(0, warmup));
  // The gateway runs on the main thread, whose thread id is the process id (Linux).
  const gatewayThread = `${process.pid}/task/${process.pid}`;
  const measured = make(warmup, o.events);
  const profiler = o.cpuProfile ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  // CPU seconds so far of the gateway's thread, the load thread and the machine.
  const cpuNow = () => ({
    gateway: cpuSeconds(gatewayThread),
    load: cpuSeconds(loadThread),
    machine: machineCpuSeconds(),
  });
  const cpuBefore = cpuNow();
  const { latencies, statuses, elapsedMs } = await blast(measured);
  const cpuAfter = cpuNow();
  if (profiler && o.cpuProfile !== undefined) {
    const { profile } = await profiler.post('Profiler.stop');
    mkdirSync(dirname(o.cpuProfile), { recursive: true });
    writeFileSync(o.cpuProfile, JSON.stringify(profile));
    profiler.disconnect();
  }
  await loader.terminate();

  const inbox = await store.inbox.counts();
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  // CPU seconds between two readings, as milliseconds per measured webhook.
  const perWebhook = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined
      ? null
      : Math.round(((after - before) * 1e6) / o.events) / 1000;
  const result = {
    date: new Date().toISOString(),
    backend: o.backend,
    ...(o.backend === 'sqlite' ? { sqliteSynchronous: o.sqliteSync } : {}),
    events: o.events,
    concurrency: o.concurrency,
    forwarder: o.temporal ? `on (${o.temporal})` : 'off',
    loadGenerator: 'own thread',
    ...(o.cpuProfile ? { cpuProfile: o.cpuProfile } : {}),
    elapsedMs: Math.round(elapsedMs),
    acceptedPerSecond: Math.round((o.events / elapsedMs) * 1000),
    latencyMs: {
      p50: round(quantile(sorted, 0.5)),
      p90: round(quantile(sorted, 0.9)),
      p99: round(quantile(sorted, 0.99)),
      max: round(sorted.at(-1) ?? 0),
    },
    statuses,
    // CPU per measured webhook: the gateway's thread (HTTP, verification, mapping, the inbox insert) and the
    // load generator's, which a real deployment runs elsewhere; and the share of the machine that was busy.
    cpuMsPerWebhook: {
      gateway: perWebhook(cpuBefore.gateway, cpuAfter.gateway),
      loadGenerator: perWebhook(cpuBefore.load, cpuAfter.load),
    },
    machineBusyShare: round(
      (cpuAfter.machine.busy - cpuBefore.machine.busy) / (cpuAfter.machine.total - cpuBefore.machine.total),
    ),
    inbox,
    // The load average shows how much of the machine other processes took during the run.
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
    },
  };

  await gateway.close();
  await store.close();
  await connection.close();
  if (target.backend === 'postgres') await dropPostgresSchema(o.databaseUrl, schema);
  rmSync(dir, { recursive: true, force: true });

  if (o.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `${result.backend}${o.backend === 'sqlite' ? ` (synchronous=${o.sqliteSync})` : ''}: ${o.events} webhooks at concurrency ${o.concurrency} in ${result.elapsedMs} ms = ${result.acceptedPerSecond}/s accepted; latency p50 ${result.latencyMs.p50} ms, p90 ${result.latencyMs.p90} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms; CPU a webhook: gateway ${result.cpuMsPerWebhook.gateway ?? 'n/a'} ms, sender ${result.cpuMsPerWebhook.loadGenerator ?? 'n/a'} ms, machine ${Math.round(result.machineBusyShare * 100)} % busy; statuses ${JSON.stringify(statuses)}; forwarder ${result.forwarder}`,
    );
  }
  const ok = (statuses['200'] ?? 0) === o.events;
  return ok ? 0 : 1;
}

sandboxEntryPoint('bench:gateway');
await runMain(command);
