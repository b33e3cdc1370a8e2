import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { createGateway } from '../../src/gateway/app.js';
import { TEMPORAL_CHANNEL_ARGS } from '../../src/gateway/temporal.js';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { dropPostgresSchema } from '../../src/storage/db.js';
import { openStore, type DatabaseTarget } from '../../src/storage/store.js';

/**
 * `npm run bench:gateway -- [--events N] [--concurrency C] [--backend sqlite|postgres] [--json]`
 * Sends N signed Onfleet webhooks at concurrency C to an in-process gateway and reports how fast they are
 * accepted (committed to the inbox and answered 200) and the latency percentiles. The forwarder is off
 * unless `--temporal <address>` names a Temporal frontend to deliver to.
 */

const USAGE =
  'usage: bench-gateway [--events N] [--concurrency C] [--backend sqlite|postgres] [--database-url URL] [--temporal ADDRESS] [--sqlite-sync full|normal] [--json]';

interface Options {
  events: number;
  concurrency: number;
  backend: 'sqlite' | 'postgres';
  databaseUrl: string;
  temporal?: string;
  sqliteSync: 'FULL' | 'NORMAL';
  json: boolean;
}

function bad(message: string): never {
  console.error(`bench-gateway: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        events: { type: 'string', default: '5000' },
        concurrency: { type: 'string', default: '32' },
        backend: { type: 'string', default: 'sqlite' },
        'database-url': { type: 'string' },
        temporal: { type: 'string' },
        'sqlite-sync': { type: 'string', default: 'full' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    bad(err instanceof Error ? err.message : String(err));
  }
  const events = Number(values.events);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(events) || events < 1 || events > 1_000_000)
    bad('--events must be an integer from 1 to 1000000');
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024)
    bad('--concurrency must be an integer from 1 to 1024');
  if (values.backend !== 'sqlite' && values.backend !== 'postgres')
    bad('--backend must be sqlite or postgres');
  const sync = String(values['sqlite-sync']).toUpperCase();
  if (sync !== 'FULL' && sync !== 'NORMAL') bad('--sqlite-sync must be full or normal');
  return {
    events,
    concurrency,
    backend: values.backend,
    databaseUrl:
      values['database-url'] ??
      process.env.SHIPSYNC_DATABASE_URL ??
      'postgres://postgres@127.0.0.1:5432/test',
    ...(values.temporal ? { temporal: values.temporal } : {}),
    sqliteSync: sync,
    json: values.json ?? false,
  };
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

async function main() {
  const o = parseOptions(process.argv.slice(2));
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

  const secret = config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET;
  const t0 = Date.now();
  const warmup = Math.min(500, Math.ceil(o.events / 10));
  const make = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => webhook(secret, (from + i) % 1000, t0 + from + i));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};

  /** Sends the webhooks over `concurrency` keep-alive connections; records latency and status when asked. */
  async function blast(hooks: { body: string; signature: string }[], record: boolean) {
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < hooks.length; i = next++) {
        const hook = hooks[i]!;
        const started = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          body: hook.body,
          headers: { 'content-type': 'application/json', 'x-onfleet-signature': hook.signature },
        });
        await res.arrayBuffer();
        if (record) {
          latencies.push(performance.now() - started);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, lane));
  }

  // Warm-up (JIT, keep-alive connections, database caches), not counted.
  await blast(make(0, warmup), false);
  const measured = make(warmup, o.events);
  const started = performance.now();
  await blast(measured, true);
  const elapsedMs = performance.now() - started;

  const inbox = await store.inbox.counts();
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  const result = {
    date: new Date().toISOString(),
    backend: o.backend,
    ...(o.backend === 'sqlite' ? { sqliteSynchronous: o.sqliteSync } : {}),
    events: o.events,
    concurrency: o.concurrency,
    forwarder: o.temporal ? `on (${o.temporal})` : 'off',
    elapsedMs: Math.round(elapsedMs),
    acceptedPerSecond: Math.round((o.events / elapsedMs) * 1000),
    latencyMs: {
      p50: round(quantile(sorted, 0.5)),
      p90: round(quantile(sorted, 0.9)),
      p99: round(quantile(sorted, 0.99)),
      max: round(sorted.at(-1) ?? 0),
    },
    statuses,
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
      `${result.backend}${o.backend === 'sqlite' ? ` (synchronous=${o.sqliteSync})` : ''}: ${o.events} webhooks at concurrency ${o.concurrency} in ${result.elapsedMs} ms = ${result.acceptedPerSecond}/s accepted; latency p50 ${result.latencyMs.p50} ms, p90 ${result.latencyMs.p90} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms; statuses ${JSON.stringify(statuses)}; forwarder ${result.forwarder}`,
    );
  }
  const ok = (statuses['200'] ?? 0) === o.events;
  process.exit(ok ? 0 : 1);
}

await main();
