import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { newCommand, runCommand, sandboxEntryPoint } from '../../src/platform/command.js';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';
import { loadConfig } from '../../src/platform/config.js';
import { devCertificatesIn, makeDevCertificates } from '../tls.js';
import { provisionTemporalCli } from './cli.js';
import {
  DEFAULT_POSTGRES_TARGET,
  CONFIG_TEMPLATE,
  DYNAMIC_CONFIG_FILE,
  cliTlsArgs,
  conventionalPorts,
  provisionTemporalServer,
  renderServerConfig,
  setupPostgresSchemas,
  startPostgresServer,
  type PostgresTarget,
  type ServerTls,
} from './postgres.js';

function portNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port number');
  return n;
}

function dbName(value: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value))
    throw new InvalidArgumentError('expected lower-case letters, digits and underscores');
  return value;
}

/** `npm run temporal:postgres`: Temporal server built from Go modules, on PostgreSQL, with shipsync's namespace. */
async function main() {
  sandboxEntryPoint('temporal:postgres');
  const config = loadConfig();
  const [defaultHost = '127.0.0.1', defaultPort = '7233'] = config.SHIPSYNC_TEMPORAL_ADDRESS.split(':');
  const program = newCommand('temporal-postgres')
    .description(
      'Start a Temporal server on PostgreSQL (no Web UI; `npm run temporal` has the dev server with UI).',
    )
    .option('--ip <ip>', 'address the services bind to', defaultHost)
    .option(
      '--port <port>',
      'frontend gRPC port; the other services use the upstream offsets from it',
      portNumber,
      portNumber(defaultPort),
    )
    .option('--db-host <host>', 'PostgreSQL host', DEFAULT_POSTGRES_TARGET.host)
    .option('--db-port <port>', 'PostgreSQL port', portNumber, DEFAULT_POSTGRES_TARGET.port)
    .option('--db-user <user>', 'PostgreSQL user (password from PGPASSWORD)', DEFAULT_POSTGRES_TARGET.user)
    .option('--db <name>', 'database of the default store', dbName, DEFAULT_POSTGRES_TARGET.dbName)
    .option(
      '--visibility-db <name>',
      'database of the visibility store',
      dbName,
      DEFAULT_POSTGRES_TARGET.visibilityDbName,
    )
    .option('--pgx', 'use the postgres12_pgx plugin instead of postgres12')
    .option('--shards <n>', 'history shards (fixed once the databases are first used)', (v) => Number(v), 4)
    .option(
      '--metrics-port <port>',
      'Prometheus metrics port (default: frontend port + 767, i.e. 8000)',
      portNumber,
    )
    .option(
      '--tls',
      'require TLS with client certificates on the frontend (mutual TLS between the services too); development certificates are made with openssl into <data dir>/temporal-postgres/tls unless --tls-dir is given',
    )
    .option(
      '--tls-dir <dir>',
      'with --tls: use ca.pem, server.pem, server-key.pem, client.pem, client-key.pem from this directory',
    )
    .option('--print-config', 'print the rendered server config and exit')
    .option('--log-level <level>', 'server log level: debug, info, warn, error', 'warn')
    .allowExcessArguments(false);
  // Parse only: the server starts below; help or bad input ends here with its exit code.
  let parsed = false;
  program.action(() => {
    parsed = true;
  });
  const code = await runCommand(program, process.argv.slice(2));
  if (!parsed || code !== 0) process.exit(code);
  const opts = program.opts<{
    ip: string;
    port: number;
    dbHost: string;
    dbPort: number;
    dbUser: string;
    db: string;
    visibilityDb: string;
    pgx?: boolean;
    shards: number;
    metricsPort?: number;
    printConfig?: boolean;
    tls?: boolean;
    tlsDir?: string;
    logLevel: 'debug' | 'info' | 'warn' | 'error';
  }>();
  if (opts.tlsDir && !opts.tls) {
    console.error('--tls-dir needs --tls');
    process.exit(2);
  }
  const say = (line: string) => console.log(line);
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const t0 = Date.now();
  const target: PostgresTarget = {
    host: opts.dbHost,
    port: opts.dbPort,
    user: opts.dbUser,
    password: process.env.PGPASSWORD,
    dbName: opts.db,
    visibilityDbName: opts.visibilityDb,
    plugin: opts.pgx ? 'postgres12_pgx' : 'postgres12',
  };
  const ports = {
    ...conventionalPorts(opts.port),
    ...(opts.metricsPort ? { metrics: opts.metricsPort } : {}),
  };
  const runDir = resolve(config.SHIPSYNC_DATA_DIR, 'temporal-postgres');
  const certs = devCertificatesIn(resolve(opts.tlsDir ?? resolve(runDir, 'tls')));
  const tls: ServerTls | undefined = opts.tls
    ? {
        caFile: certs.ca,
        certFile: certs.serverCert,
        keyFile: certs.serverKey,
        clientCertFile: certs.clientCert,
        clientKeyFile: certs.clientKey,
        serverName: 'localhost',
      }
    : undefined;
  const serverOptions = {
    ip: opts.ip,
    ports,
    db: target,
    namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE,
    historyShards: opts.shards,
    logLevel: opts.logLevel,
    runDir,
    ...(tls ? { tls } : {}),
    onLog: (line: string) => console.error(line),
  };
  if (opts.printConfig) {
    // The password stays out of terminals and logs.
    const shown = { ...target, password: target.password ? '<PGPASSWORD>' : '' };
    process.stdout.write(renderServerConfig({ ...serverOptions, db: shown }));
    return;
  }

  if (tls && !opts.tlsDir) {
    await makeDevCertificates(certs.dir, { clientName: 'shipsync' });
    say(`development certificates (CA, server for localhost/127.0.0.1, client) in ${certs.dir}`);
  }
  say('1/4 provisioning binaries');
  const cli = await provisionTemporalCli(say);
  const server = await provisionTemporalServer(say);
  say(
    `2/4 schemas on postgresql://${target.user}@${target.host}:${target.port} (${target.dbName}, ${target.visibilityDbName})`,
  );
  await setupPostgresSchemas(target, server, say);

  say(`3/4 starting temporal-server: ${CONFIG_TEMPLATE} rendered into ${runDir}/config/shipsync.yaml`);
  const running = await startPostgresServer({
    ...serverOptions,
    serverPath: server.serverPath,
    cliPath: cli.path,
    setupSchemas: false,
  });
  const t = running.timings;
  say(`  frontend listening after ${seconds(t.listeningMs)}, healthy after ${seconds(t.healthyMs)}`);
  say(
    `4/4 namespace ready after ${seconds(t.namespaceMs)}, search attributes after ${seconds(t.searchAttributesMs)}`,
  );
  say(`temporal server (postgresql) ready in ${seconds(Date.now() - t0)} total`);
  say(`  gRPC address:      ${running.address}${tls ? ' (TLS, client certificate required)' : ''}`);
  if (tls) {
    say(`  shipsync processes: SHIPSYNC_TEMPORAL_TLS_CA=${tls.caFile}`);
    say(`                      SHIPSYNC_TEMPORAL_TLS_CERT=${tls.clientCertFile}`);
    say(`                      SHIPSYNC_TEMPORAL_TLS_KEY=${tls.clientKeyFile}`);
    say(`                      SHIPSYNC_TEMPORAL_TLS_SERVER_NAME=${tls.serverName ?? 'localhost'}`);
    say(`  temporal CLI:      ${cliTlsArgs(tls).join(' ')}`);
  }
  say(`  Web UI:            none (use \`npm run temporal\` for the dev server with its UI)`);
  say(`  namespace:         ${running.namespace}`);
  say(`  search attributes: ${Object.keys(SEARCH_ATTRIBUTES).join(', ')}`);
  say(`  databases:         ${target.dbName}, ${target.visibilityDbName} (${target.plugin})`);
  say(
    `  internal ports:    history ${ports.history}, matching ${ports.matching}, worker ${ports.worker}, http ${ports.frontendHttp}`,
  );
  say(`  metrics:           http://${opts.ip}:${ports.metrics}/metrics`);
  say(`  dynamic config:    ${DYNAMIC_CONFIG_FILE} (re-read every 10 s)`);
  say(`  server binary:     ${server.serverPath} (${server.version})`);
  say('press Ctrl-C to stop');

  let stopping = false;
  const stop = () => {
    stopping = true;
    say('stopping temporal server...');
    void running.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  running.process.once('exit', (code) => {
    if (stopping) return;
    console.error(`temporal server exited with code ${code}`);
    process.exit(1);
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
