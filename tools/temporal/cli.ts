import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';

const execFileAsync = promisify(execFile);

/** The Temporal CLI release shipsync is tested against; its dev server embeds Temporal server 1.29. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

/** Where a provisioned CLI binary came from. */
export type CliSource = 'env' | 'cache' | 'go-install' | 'sdk-download';

/** A usable Temporal CLI binary and how it was found. */
export interface ProvisionedCli {
  path: string;
  source: CliSource;
  version: string;
  elapsedMs: number;
}

/** Per-user cache directory for binaries shipsync builds or downloads, keyed by version below it. */
export function userCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  return join(base, 'shipsync');
}

/** Path at which the pinned CLI version is cached. */
export function cachedCliPath(version = TEMPORAL_CLI_VERSION): string {
  return join(
    userCacheDir(),
    'temporal-cli',
    version,
    process.platform === 'win32' ? 'temporal.exe' : 'temporal',
  );
}

async function hasGo(): Promise<boolean> {
  try {
    await execFileAsync('go', ['version']);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds the pinned Temporal CLI: $TEMPORAL_CLI_PATH, then the per-user cache, then `go install` into the
 * cache, then the SDK's own download (machines with internet).
 */
export async function provisionTemporalCli(say: (line: string) => void = () => {}): Promise<ProvisionedCli> {
  const started = Date.now();
  const done = (path: string, source: CliSource): ProvisionedCli => {
    const elapsedMs = Date.now() - started;
    say(`temporal cli ${TEMPORAL_CLI_VERSION}: ${path} (${source}, ${(elapsedMs / 1000).toFixed(1)} s)`);
    return { path, source, version: TEMPORAL_CLI_VERSION, elapsedMs };
  };
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH points to a missing file: ${fromEnv}`);
    return done(fromEnv, 'env');
  }
  const cached = cachedCliPath();
  if (existsSync(cached)) return done(cached, 'cache');
  const binDir = join(userCacheDir(), 'temporal-cli', TEMPORAL_CLI_VERSION);
  mkdirSync(binDir, { recursive: true });
  if (await hasGo()) {
    say(`building temporal cli ${TEMPORAL_CLI_VERSION} with go install (first run only, a few minutes)...`);
    await execFileAsync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: binDir, CGO_ENABLED: '0' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (!existsSync(cached)) throw new Error(`go install finished but ${cached} is missing`);
    return done(cached, 'go-install');
  }
  say('no go toolchain found: downloading the Temporal CLI through the Temporal SDK...');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir: binDir } },
  });
  await env.teardown();
  const { readdirSync } = await import('node:fs');
  const found = readdirSync(binDir).find((f) => f.startsWith('temporal'));
  if (!found) throw new Error(`the SDK download left no temporal binary in ${binDir}`);
  return done(join(binDir, found), 'sdk-download');
}

/** Options for a dev server process. */
export interface DevServerOptions {
  cliPath: string;
  ip?: string;
  port: number;
  uiPort?: number;
  namespace: string;
  dbFile?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  headless?: boolean;
  /** The remote codec the Web UI decodes payloads with (`--ui-codec-endpoint`), e.g. the codec server's URL. */
  uiCodecEndpoint?: string;
  /** Extra dynamic config values, e.g. `limit.historyCount.suggestContinueAsNew`. */
  dynamicConfig?: Record<string, string | number | boolean>;
}

/** A running dev server child process. */
export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Command-line arguments for `temporal server start-dev` with shipsync's namespace and search attributes. */
export function devServerArgs(o: DevServerOptions): string[] {
  const args = ['server', 'start-dev', '--ip', o.ip ?? '127.0.0.1', '--port', String(o.port)];
  args.push('--log-level', o.logLevel ?? 'error', '--log-format', 'json');
  if (o.namespace !== 'default') args.push('--namespace', o.namespace);
  if (o.headless) args.push('--headless');
  else {
    if (o.uiPort) args.push('--ui-port', String(o.uiPort));
    if (o.uiCodecEndpoint) args.push('--ui-codec-endpoint', o.uiCodecEndpoint);
  }
  if (o.dbFile) {
    args.push('--db-filename', o.dbFile);
    // WAL keeps readers (visibility) from blocking the history writer; synchronous=NORMAL is safe with WAL.
    args.push('--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal');
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  // The CLI turns this on by default so that search attributes created while the server runs are usable at
  // once; it makes every workflow task, upsert and visibility call read the cluster metadata and the
  // namespace from the database, under one lock (about a tenth of the server's CPU under the bench). Ours are
  // created in the database with the namespace before the services start, so the caches hold them from
  // their first read.
  args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  for (const [k, v] of Object.entries(o.dynamicConfig ?? {}))
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  return args;
}

/** Resolves once a TCP connection to host:port succeeds, or rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      socket.once('connect', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Starts `temporal server start-dev` and resolves when the frontend accepts workflow calls. */
export async function startDevServer(o: DevServerOptions): Promise<DevServer> {
  if (o.dbFile) mkdirSync(join(o.dbFile, '..'), { recursive: true });
  const child = spawn(o.cliPath, devServerArgs(o), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ip = o.ip ?? '127.0.0.1';
  const ready = waitForPort(ip, o.port, 60_000).then(() =>
    waitForNamespace(o.cliPath, `${ip}:${o.port}`, o.namespace, 60_000),
  );
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then(() => 'exited' as const),
  ]);
  if (outcome === 'exited') throw new Error(`temporal dev server exited during start: ${stderr.trim()}`);
  return {
    address: `${ip}:${o.port}`,
    uiUrl: o.headless ? undefined : `http://${ip}:${o.uiPort ?? o.port + 1000}`,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForNamespace(cliPath: string, address: string, namespace: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await execFileAsync(cliPath, [
        'operator',
        'namespace',
        'describe',
        '--address',
        address,
        '-n',
        namespace,
      ]);
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}
