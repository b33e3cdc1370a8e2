import { randomBytes } from 'node:crypto';
import getPort from 'get-port';
import { provisionTemporalCli, startDevServer } from './cli.js';
import { provisionTemporalServer } from './postgres/provision.js';
import {
  DEFAULT_POSTGRES_TARGET,
  dropPostgresDatabases,
  setupPostgresSchemas,
  type PostgresTarget,
} from './postgres/schema.js';
import { freeServerPorts, startPostgresServer, type ServerTls } from './postgres/server.js';

/** A Temporal server for a test run, whichever kind, and how to stop it. */
export interface TestTemporal {
  kind: 'devserver' | 'postgres';
  address: string;
  cliPath: string;
  /** Throwaway databases of a `postgres` run (dropped by `stop()`); empty for the dev server. */
  databases: string[];
  stop(): Promise<void>;
}

/**
 * Starts the server a test run asks for: the CLI dev server (SQLite, ~1 s) or the PostgreSQL-backed server on
 * free ports with throwaway databases `temporal_t<hex>`/`temporal_t<hex>_vis`, dropped again by `stop()`.
 */
export async function startTemporalForTests(
  kind: 'devserver' | 'postgres',
  say: (line: string) => void = () => {},
  db: Pick<PostgresTarget, 'host' | 'port' | 'user' | 'password'> = DEFAULT_POSTGRES_TARGET,
  /** PostgreSQL server only: require TLS with client certificates on the frontend. */
  tls?: ServerTls,
  /** PostgreSQL server only: history shards of the throwaway databases (2 unless set). */
  opts: { historyShards?: number } = {},
): Promise<TestTemporal> {
  const cliBin = await provisionTemporalCli(say);
  if (kind === 'devserver' && tls) throw new Error('tls needs the PostgreSQL-backed server');
  if (kind === 'devserver') {
    const dev = await startDevServer({
      cliPath: cliBin.path,
      port: await getPort({ host: '127.0.0.1' }),
      namespace: 'default',
      headless: true,
    });
    return { kind, address: dev.address, cliPath: cliBin.path, databases: [], stop: () => dev.stop() };
  }
  const server = await provisionTemporalServer(say);
  const suffix = randomBytes(4).toString('hex');
  const target: PostgresTarget = {
    ...db,
    dbName: `temporal_t${suffix}`,
    visibilityDbName: `temporal_t${suffix}_vis`,
  };
  const drop = () => dropPostgresDatabases(target, [target.dbName, target.visibilityDbName]);
  try {
    await setupPostgresSchemas(target, server, say);
    const running = await startPostgresServer({
      serverPath: server.serverPath,
      cliPath: cliBin.path,
      ports: await freeServerPorts(),
      db: target,
      setupSchemas: false,
      historyShards: opts.historyShards ?? 2,
      ...(tls ? { tls } : {}),
      say,
    });
    say(
      `temporal server on postgresql at ${running.address} (databases ${target.dbName}, ${target.visibilityDbName})`,
    );
    return {
      kind,
      address: running.address,
      cliPath: cliBin.path,
      databases: [target.dbName, target.visibilityDbName],
      stop: async () => {
        await running.stop();
        await drop();
      },
    };
  } catch (err) {
    await drop();
    throw err;
  }
}
