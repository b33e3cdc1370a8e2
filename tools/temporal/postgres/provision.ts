import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { userCacheDir } from '../cli.js';

const execFileAsync = promisify(execFile);

/** The Temporal server release built from Go modules; the pinned CLI's dev server embeds the same version. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

/** Go module the server and its SQL schema tool are built from. */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';

/** Directory holding the checked-in server config template and dynamic config. */
export const DEPLOY_TEMPORAL_DIR = fileURLToPath(new URL('../../../deploy/temporal/', import.meta.url));

/** The static config template; `${NAME}` placeholders are filled by `renderServerConfig`. */
export const CONFIG_TEMPLATE = join(DEPLOY_TEMPORAL_DIR, 'config.template.yaml');

/** The dynamic config the server polls every 10 s, so edits apply to a running server. */
export const DYNAMIC_CONFIG_FILE = join(DEPLOY_TEMPORAL_DIR, 'dynamicconfig.yaml');

/** Where provisioned server binaries came from. */
export type ServerSource = 'cache' | 'go-install';

/** The server and schema-tool binaries plus the versioned PostgreSQL schema of one server version. */
export interface ProvisionedServer {
  serverPath: string;
  sqlToolPath: string;
  /** Holds `temporal/versioned` and `visibility/versioned` for the postgres12 plugins. */
  schemaDir: string;
  version: string;
  source: ServerSource;
  elapsedMs: number;
}

/** Per-version cache directory: `<userCacheDir>/temporal-server/<version>`. */
export function cachedServerDir(version = TEMPORAL_SERVER_VERSION): string {
  return join(userCacheDir(), 'temporal-server', version);
}

function binaryName(name: string): string {
  return process.platform === 'win32' ? `${name}.exe` : name;
}

// Module-cache files are read-only; the copy in our cache is made writable so it can be deleted normally.
function makeWritable(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const entry of readdirSync(path)) makeWritable(join(path, entry));
}

async function copySchemaFromModule(version: string, target: string): Promise<void> {
  const { stdout } = await execFileAsync(
    'go',
    ['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}@${version}`],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!dir)
    throw new Error(`go mod download gave no source directory for ${TEMPORAL_SERVER_MODULE}@${version}`);
  const source = join(dir, 'schema', 'postgresql', 'v12');
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  cpSync(source, staging, { recursive: true });
  makeWritable(staging);
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
}

/**
 * Finds the pinned server binaries in the per-user cache, or builds them with one `go install` of
 * `cmd/server` and `cmd/tools/sql` (minutes, first run only); the PostgreSQL schema is copied next to them.
 */
export async function provisionTemporalServer(
  say: (line: string) => void = () => {},
  version = TEMPORAL_SERVER_VERSION,
): Promise<ProvisionedServer> {
  const started = Date.now();
  const dir = cachedServerDir(version);
  const serverPath = join(dir, binaryName('temporal-server'));
  const sqlToolPath = join(dir, binaryName('temporal-sql-tool'));
  const schemaDir = join(dir, 'schema', 'postgresql', 'v12');
  let source: ServerSource = 'cache';
  mkdirSync(dir, { recursive: true });
  if (!existsSync(serverPath) || !existsSync(sqlToolPath)) {
    source = 'go-install';
    say(
      `building temporal server ${version} from ${TEMPORAL_SERVER_MODULE} with go install (first run only, several minutes)...`,
    );
    // A private GOBIN, renamed into place afterwards, so an interrupted build never looks cached.
    const gobin = join(dir, `.build-${process.pid}`);
    rmSync(gobin, { recursive: true, force: true });
    try {
      await execFileAsync(
        'go',
        [
          'install',
          `${TEMPORAL_SERVER_MODULE}/cmd/server@${version}`,
          `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${version}`,
        ],
        {
          env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false' },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    } catch (err) {
      throw new Error(
        `go install of temporal server ${version} failed (needs Go 1.25+ and the Go module proxy): ${String(err)}`,
      );
    }
    renameSync(join(gobin, binaryName('server')), serverPath);
    renameSync(join(gobin, binaryName('sql')), sqlToolPath);
    rmSync(gobin, { recursive: true, force: true });
  }
  if (
    !existsSync(join(schemaDir, 'temporal', 'versioned')) ||
    !existsSync(join(schemaDir, 'visibility', 'versioned'))
  ) {
    say(`copying the postgresql schema of ${TEMPORAL_SERVER_MODULE}@${version} from the Go module cache...`);
    await copySchemaFromModule(version, schemaDir);
  }
  const elapsedMs = Date.now() - started;
  say(`temporal server ${version}: ${serverPath} (${source}, ${(elapsedMs / 1000).toFixed(1)} s)`);
  return { serverPath, sqlToolPath, schemaDir, version, source, elapsedMs };
}
