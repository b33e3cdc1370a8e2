import { setTimeout as sleep } from 'node:timers/promises';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import getPort from 'get-port';
import { SEARCH_ATTRIBUTES } from '../../../src/domain/search-attributes.js';
import { provisionTemporalCli, waitForPort } from '../cli.js';
import { CONFIG_TEMPLATE, DYNAMIC_CONFIG_FILE, provisionTemporalServer } from './provision.js';
import { DEFAULT_POSTGRES_TARGET, setupPostgresSchemas, type PostgresTarget } from './schema.js';

const execFileAsync = promisify(execFile);

/** Ports of the four services in one server process; `frontend` is the gRPC address clients use. */
export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  /** Prometheus scrape endpoint (`/metrics`). */
  metrics: number;
}

/** Highest membership port the SQL schema can store: `cluster_membership.rpc_port` is a SMALLINT. */
export const MAX_MEMBERSHIP_PORT = 32767;

/** The upstream development ports, anchored at the frontend port (7233 gives 7234, 7235, 7239, 7243, 6933..., 8000). */
export function conventionalPorts(frontend = 7233): ServerPorts {
  if (frontend < 301 || frontend > MAX_MEMBERSHIP_PORT + 300 || frontend + 10 > 65535)
    throw new Error(
      `frontend port ${frontend} puts membership ports outside 1..${MAX_MEMBERSHIP_PORT}; pick 301..${MAX_MEMBERSHIP_PORT + 300}`,
    );
  return {
    frontend,
    frontendHttp: frontend + 10,
    history: frontend + 1,
    matching: frontend + 2,
    worker: frontend + 6,
    frontendMembership: frontend - 300,
    historyMembership: frontend - 299,
    matchingMembership: frontend - 298,
    workerMembership: frontend - 294,
    metrics: frontend + 767,
  };
}

/** Membership ports from a random start in 20000..32767 (the OS hands out ephemeral ports above 32767 on Linux). */
function* membershipCandidates(): Generator<number> {
  const span = MAX_MEMBERSHIP_PORT - 20000 + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) yield 20000 + ((start + i) % span);
}

/** Ports that were free a moment ago, for a server that must not collide with others on the host. */
export async function freeServerPorts(ip = '127.0.0.1', frontend?: number): Promise<ServerPorts> {
  const next = () => getPort({ host: ip });
  const member = () => getPort({ host: ip, port: membershipCandidates() });
  return {
    frontend: frontend ?? (await next()),
    frontendHttp: await next(),
    frontendMembership: await member(),
    history: await next(),
    historyMembership: await member(),
    matching: await next(),
    matchingMembership: await member(),
    worker: await next(),
    workerMembership: await member(),
    metrics: await next(),
  };
}

/**
 * TLS of the server (PEM file paths): its frontend requires a client certificate signed by `caFile`, and
 * its own services talk to each other over mutual TLS with the server certificate. The CLI calls made here
 * (health, namespace, search attributes) present `clientCertFile`/`clientKeyFile`.
 */
export interface ServerTls {
  /** The CA that signed the server certificate and the client certificates the frontend accepts. */
  caFile: string;
  /** Server certificate (SAN covering `serverName`; also used as the services' client certificate) and key. */
  certFile: string;
  keyFile: string;
  /** Client certificate and key for the CLI calls. */
  clientCertFile: string;
  clientKeyFile: string;
  /** Name every client checks the server certificate against (default `localhost`). */
  serverName?: string;
}

/** Options for a PostgreSQL-backed server process. */
export interface PostgresServerOptions {
  /** `temporal-server` binary; provisioned (cache or `go install`) when omitted. */
  serverPath?: string;
  /** The Temporal CLI, used to wait for health and register the namespace and search attributes; provisioned when omitted. */
  cliPath?: string;
  ip?: string;
  /** Frontend gRPC port when `ports` is omitted; the other services get the upstream offsets. Default 7233. */
  port?: number;
  ports?: ServerPorts;
  /** Databases; `temporal` and `temporal_visibility` on 127.0.0.1:5432 as `postgres` by default. */
  db?: PostgresTarget;
  /** Run `setupPostgresSchemas` first (idempotent, about 0.2 s when nothing is missing). Default true. */
  setupSchemas?: boolean;
  namespace?: string;
  /** Workflow history retention of a namespace this call creates, e.g. `72h`. */
  retention?: string;
  historyShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where the rendered `config/shipsync.yaml` goes; a temporary directory (removed on stop) by default. */
  runDir?: string;
  /** Dynamic config file; the checked-in `deploy/temporal/dynamicconfig.yaml` by default. */
  dynamicConfigFile?: string;
  /** Require TLS with client certificates on the frontend (and mutual TLS between the services). */
  tls?: ServerTls;
  /** Server log lines (JSON) as they arrive. */
  onLog?: (line: string) => void;
  say?: (line: string) => void;
}

/** A running PostgreSQL-backed server and how long each start step took. */
export interface PostgresServer {
  address: string;
  ports: ServerPorts;
  namespace: string;
  /** Directory with the rendered `config/shipsync.yaml`. */
  runDir: string;
  process: ChildProcess;
  /** The TLS files when started with `tls`. */
  tls?: ServerTls;
  timings: {
    schemaMs: number;
    listeningMs: number;
    healthyMs: number;
    namespaceMs: number;
    searchAttributesMs: number;
  };
  stop(): Promise<void>;
}

/** What the config template needs to know. */
export type ServerConfigInput = Pick<
  PostgresServerOptions,
  'ip' | 'historyShards' | 'logLevel' | 'dynamicConfigFile' | 'tls'
> & { ports: ServerPorts; db: PostgresTarget };

/** Values for the template's placeholders, each already a YAML scalar (strings JSON-quoted, numbers bare). */
export function serverConfigValues(o: ServerConfigInput): Record<string, string | number> {
  const ip = o.ip ?? '127.0.0.1';
  return {
    LOG_LEVEL: o.logLevel ?? 'warn',
    HISTORY_SHARDS: o.historyShards ?? 4,
    DB_PLUGIN: o.db.plugin ?? 'postgres12',
    DB_NAME: o.db.dbName,
    VISIBILITY_DB_NAME: o.db.visibilityDbName,
    DB_ADDRESS: `${o.db.host}:${o.db.port}`,
    DB_USER: o.db.user,
    DB_PASSWORD: o.db.password ?? '',
    BIND_IP: ip,
    METRICS_ADDRESS: `${ip}:${o.ports.metrics}`,
    FRONTEND_ADDRESS: `${ip}:${o.ports.frontend}`,
    FRONTEND_PORT: o.ports.frontend,
    FRONTEND_HTTP_PORT: o.ports.frontendHttp,
    FRONTEND_MEMBERSHIP_PORT: o.ports.frontendMembership,
    HISTORY_PORT: o.ports.history,
    HISTORY_MEMBERSHIP_PORT: o.ports.historyMembership,
    MATCHING_PORT: o.ports.matching,
    MATCHING_MEMBERSHIP_PORT: o.ports.matchingMembership,
    WORKER_PORT: o.ports.worker,
    WORKER_MEMBERSHIP_PORT: o.ports.workerMembership,
    DYNAMIC_CONFIG_FILE: o.dynamicConfigFile ?? DYNAMIC_CONFIG_FILE,
  };
}

/** The checked-in template with every `${NAME}` outside comments replaced; an unknown one is an error, not an empty value. */
export function renderServerConfig(
  o: ServerConfigInput,
  template = readFileSync(CONFIG_TEMPLATE, 'utf8'),
): string {
  const values = serverConfigValues(o);
  const fill = (line: string) =>
    line.replace(/\$\{([A-Z0-9_]+)\}/g, (_, name: string) => {
      const value = values[name];
      if (value === undefined) throw new Error(`${CONFIG_TEMPLATE} uses \${${name}}, which has no value`);
      // JSON strings are valid YAML double-quoted scalars, so passwords and paths need no further escaping.
      return typeof value === 'number' ? String(value) : JSON.stringify(value);
    });
  // Comment lines stay as written, so the template can describe its own placeholders.
  const rendered = template
    .split('\n')
    .map((line) => (line.trimStart().startsWith('#') ? line : fill(line)))
    .join('\n');
  if (!o.tls) return rendered;
  if (!/^global:$/m.test(rendered)) throw new Error(`${CONFIG_TEMPLATE} has no top-level global: section`);
  return rendered.replace(/^global:$/m, `global:\n${tlsSection(o.tls)}`);
}

/**
 * The `global.tls` section: the frontend requires client certificates from the CA; internode traffic is
 * mutual TLS with the server certificate; the system worker reaches the frontend with the internode
 * certificate (the server's implicit system-worker setup), checking the server name against the same CA.
 */
export function tlsSection(tls: ServerTls): string {
  const q = (v: string) => JSON.stringify(v);
  const serverName = tls.serverName ?? 'localhost';
  const group = [
    `      server:`,
    `        certFile: ${q(tls.certFile)}`,
    `        keyFile: ${q(tls.keyFile)}`,
    `        requireClientAuth: true`,
    `        clientCaFiles: [${q(tls.caFile)}]`,
    `      client:`,
    `        serverName: ${q(serverName)}`,
    `        rootCaFiles: [${q(tls.caFile)}]`,
  ];
  return ['  tls:', '    internode:', ...group, '    frontend:', ...group].join('\n');
}

/** The Temporal CLI's flags for a server started with `tls`; none without. */
export function cliTlsArgs(tls: ServerTls | undefined): string[] {
  if (!tls) return [];
  return [
    '--tls-ca-path',
    tls.caFile,
    '--tls-cert-path',
    tls.clientCertFile,
    '--tls-key-path',
    tls.clientKeyFile,
    '--tls-server-name',
    tls.serverName ?? 'localhost',
  ];
}

/** Arguments for `temporal-server start` on a run directory holding `config/shipsync.yaml`. */
export function serverArgs(runDir: string): string[] {
  return ['--root', runDir, '--config', 'config', '--env', 'shipsync', '--allow-no-auth', 'start'];
}

async function retryUntil<T>(what: string, timeoutMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${what} did not succeed within ${timeoutMs} ms: ${errorText(err)}`);
      await sleep(250);
    }
  }
}

function errorText(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(err)).slice(0, 2000);
}

function isAlreadyExists(err: unknown): boolean {
  return /already (exists|registered)/i.test(errorText(err));
}

/** Where the CLI connects: an address, or an address with TLS flags (cliTlsArgs). */
export type CliTarget = string | { address: string; tlsArgs: string[] };

async function cli(cliPath: string, target: CliTarget, args: string[]): Promise<string> {
  const { address, tlsArgs } = typeof target === 'string' ? { address: target, tlsArgs: [] } : target;
  const { stdout } = await execFileAsync(cliPath, [...args, '--address', address, ...tlsArgs], {
    maxBuffer: 8 * 1024 * 1024,
  });
  return stdout;
}

/**
 * Creates the namespace if missing (already-exists is fine) and waits until the frontend serves it; true when
 * this call created it.
 */
export async function ensureNamespace(
  cliPath: string,
  address: CliTarget,
  namespace: string,
  retention = '72h',
): Promise<boolean> {
  let created = true;
  try {
    await cli(cliPath, address, [
      'operator',
      'namespace',
      'create',
      '-n',
      namespace,
      '--retention',
      retention,
    ]);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    created = false;
  }
  await retryUntil(`namespace ${namespace}`, 30_000, () =>
    cli(cliPath, address, ['operator', 'namespace', 'describe', '-n', namespace]),
  );
  return created;
}

/**
 * Registers every shipsync search attribute missing from the namespace and waits until all are listed; true
 * when any was missing.
 */
export async function ensureSearchAttributes(
  cliPath: string,
  address: CliTarget,
  namespace: string,
): Promise<boolean> {
  const listed = async () => {
    const out = await cli(cliPath, address, [
      'operator',
      'search-attribute',
      'list',
      '-n',
      namespace,
      '-o',
      'json',
    ]);
    return JSON.stringify(JSON.parse(out));
  };
  const present = await listed();
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !present.includes(`"${name}"`));
  if (missing.length > 0) {
    const args = ['operator', 'search-attribute', 'create', '-n', namespace];
    for (const [name, type] of missing) args.push('--name', name, '--type', type);
    try {
      await cli(cliPath, address, args);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  await retryUntil('search attributes', 30_000, async () => {
    const now = await listed();
    const absent = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !now.includes(`"${name}"`));
    if (absent.length > 0) throw new Error(`not yet listed: ${absent.join(', ')}`);
  });
  return missing.length > 0;
}

/**
 * Starts `temporal-server start` with the checked-in config on PostgreSQL, waits until the frontend is healthy,
 * then registers the namespace and every search attribute; the schemas must be set up already.
 *
 * When it had to register any of them (a new database), it starts the server once more. Its services cache
 * the namespace and the search attributes for up to a minute, and the dynamic config no longer forces a
 * database read on every use (`system.forceSearchAttributesCacheRefreshOnRead`), so a service that read
 * them before the registration would refuse a shipment's search attributes until then; a fresh start reads
 * them from the database.
 */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const say = options.say ?? (() => {});
  const ports = options.ports ?? conventionalPorts(options.port ?? 7233);
  const db = options.db ?? DEFAULT_POSTGRES_TARGET;
  const serverBin = options.serverPath ? undefined : await provisionTemporalServer(say);
  const serverPath = options.serverPath ?? serverBin?.serverPath ?? '';
  const cliPath = options.cliPath ?? (await provisionTemporalCli(say)).path;
  const timings = { schemaMs: 0, listeningMs: 0, healthyMs: 0, namespaceMs: 0, searchAttributesMs: 0 };
  if (options.setupSchemas !== false) {
    const schemaStarted = Date.now();
    await setupPostgresSchemas(db, serverBin, say);
    timings.schemaMs = Date.now() - schemaStarted;
  }
  const o = { ...options, ports, db, serverPath, cliPath };
  const ip = o.ip ?? '127.0.0.1';
  const namespace = o.namespace ?? 'default';
  const address = `${ip}:${ports.frontend}`;
  const spawned = Date.now();
  const runDir = o.runDir ?? mkdtempSync(join(tmpdir(), 'shipsync-temporal-'));
  const ownsRunDir = o.runDir === undefined;
  mkdirSync(join(runDir, 'config'), { recursive: true });
  writeFileSync(join(runDir, 'config', 'shipsync.yaml'), renderServerConfig(o), { mode: 0o600 });
  let tail = '';
  let restarting = false;
  // Resolves when a server process exits other than for the restart below.
  let onUnexpectedExit: () => void = () => {};
  const unexpectedExit = new Promise<void>((resolve) => (onUnexpectedExit = resolve));
  const launch = () => {
    const child = spawn(o.serverPath, serverArgs(runDir), { cwd: runDir, stdio: ['ignore', 'pipe', 'pipe'] });
    const onChunk = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-6000);
      if (o.onLog) for (const line of text.split('\n')) if (line.trim()) o.onLog(line);
    };
    child.stdout?.on('data', onChunk);
    child.stderr?.on('data', onChunk);
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        if (!restarting) {
          if (ownsRunDir) rmSync(runDir, { recursive: true, force: true });
          onUnexpectedExit();
        }
        resolve(code);
      }),
    );
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
    };
    return { child, exited, stop };
  };
  let server = launch();
  const target: CliTarget = o.tls ? { address, tlsArgs: cliTlsArgs(o.tls) } : address;
  const healthy = async () => {
    await waitForPort(ip, o.ports.frontend, 60_000);
    timings.listeningMs ||= Date.now() - spawned;
    await retryUntil('frontend health check', 60_000, () =>
      cli(o.cliPath, target, ['operator', 'cluster', 'health']),
    );
  };
  const ready = async () => {
    await healthy();
    timings.healthyMs = Date.now() - spawned;
    const namespaceCreated = await ensureNamespace(o.cliPath, target, namespace, o.retention);
    timings.namespaceMs = Date.now() - spawned;
    const attributesCreated = await ensureSearchAttributes(o.cliPath, target, namespace);
    if (namespaceCreated || attributesCreated) {
      restarting = true;
      await server.stop();
      restarting = false;
      server = launch();
      await healthy();
      await retryUntil(`namespace ${namespace}`, 30_000, () =>
        cli(o.cliPath, target, ['operator', 'namespace', 'describe', '-n', namespace]),
      );
    }
    timings.searchAttributesMs = Date.now() - spawned;
  };
  let outcome: 'ready' | 'exited';
  const starting = ready();
  try {
    outcome = await Promise.race([
      starting.then(() => 'ready' as const),
      unexpectedExit.then(() => 'exited' as const),
    ]);
  } catch (err) {
    await server.stop();
    throw new Error(`temporal server did not become ready: ${errorText(err)}\n${tail.trim()}`);
  }
  if (outcome === 'exited') {
    starting.catch(() => {});
    throw new Error(`temporal server exited during start (code ${server.child.exitCode}): ${tail.trim()}`);
  }
  return {
    address,
    ports: o.ports,
    namespace,
    runDir,
    process: server.child,
    ...(o.tls ? { tls: o.tls } : {}),
    timings,
    stop: () => server.stop(),
  };
}
