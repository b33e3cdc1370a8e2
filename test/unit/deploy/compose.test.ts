import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../../src/domain/search-attributes.js';
import {
  configSchema,
  loadConfig,
  SANDBOX_PRINCIPALS,
  SANDBOX_SECRETS,
  tokenHash,
  type ConfigError,
} from '../../../src/platform/config.js';

/** The parts of a compose service this test reads. */
interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | null>;
  healthcheck?: { test: string[] | string };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
  profiles?: string[];
  volumes?: string[];
  ports?: string[];
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const composeText = read('docker-compose.yml');
const services = (parse(composeText, { merge: true }) as { services: Record<string, Service> }).services;
const scripts = Object.values(
  (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
);
const buildConfig = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
const SAMPLE_ENV = 'deploy/compose.env.example';

const entries = Object.entries(services);
/** shipsync's own services: built from this repository's Dockerfile. */
const shipsync = entries.filter(([, s]) => s.build !== undefined);
const isOneShot = (s: Service) => s.restart === 'no';
const words = (v: string[] | string | undefined) => (Array.isArray(v) ? v : (v ?? '').split(/\s+/));

/** Keys whose URLs are what operators' browsers use (CORS origins), not addresses between containers. */
const BROWSER_FACING = new Set(['SHIPSYNC_CODEC_CORS_ORIGINS']);

/** Every http(s) URL in a service's command and environment. */
function urlsOf(s: Service): string[] {
  const env = Object.entries(s.environment ?? {}).filter(([k]) => !BROWSER_FACING.has(k));
  const texts = [...words(s.command), ...env.map(([, v]) => String(v))];
  return texts.flatMap((t) => t.match(/https?:\/\/[^\s'"}]+/g) ?? []);
}

/** Keys of the configuration schema whose value is a secret. */
const SECRET_KEYS = [
  'SHIPSYNC_PAYLOAD_KEY',
  'SHIPSYNC_PRINCIPALS',
  'SHIPSYNC_DISPATCH_API_KEY',
  'SHIPSYNC_DISPATCH_WEBHOOK_SECRET',
  'SHIPSYNC_CRM_WEBHOOK_SECRET',
  'SHIPSYNC_ERP_WEBHOOK_TOKEN',
];

describe('docker-compose.yml', () => {
  it('runs Temporal on PostgreSQL with one-shot schema and setup services, two workers, two gateways behind one address, and the sandboxes in a profile', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal-schema',
        'temporal',
        'temporal-setup',
        'temporal-ui',
        'codec-server',
        'worker-1',
        'worker-2',
        'gateway-1',
        'gateway-2',
        'gateway',
        'erp-sandbox',
        'dispatch-sandbox',
        'crm-sandbox',
      ]),
    );
    expect(services.temporal?.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-schema']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-setup']?.image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:/);
    for (const name of ['erp-sandbox', 'dispatch-sandbox', 'crm-sandbox']) {
      expect(services[name]?.profiles, name).toEqual(['sandbox']);
    }
    const unprofiled = entries.filter(([, s]) => !s.profiles).map(([n]) => n);
    expect(unprofiled.filter((n) => n.includes('sandbox'))).toEqual([]);
  });

  it('runs every shipsync service from an entry point that the build compiles and a package script runs from source', () => {
    expect(shipsync.length).toBeGreaterThanOrEqual(7);
    for (const [name, s] of shipsync) {
      const argv = words(s.command);
      // Workers start through the jemalloc launcher; the rest run node directly.
      const [node, entry] = name.startsWith('worker-') ? argv.slice(1) : argv;
      if (name.startsWith('worker-')) expect(argv[0], name).toBe('bin/with-jemalloc');
      expect(node, name).toBe('node');
      const source = entry?.match(/^dist\/((?:src|sandbox)\/.+)\.js$/)?.[1];
      expect(source, `${name}: ${entry} is not a compiled entry under dist/`).toBeDefined();
      expect(existsSync(join(root, `${source}.ts`)), `${name}: ${source}.ts`).toBe(true);
      expect(buildConfig.include, name).toContain(source?.split('/')[0]);
      expect(
        scripts.some((script) => script.includes(`${source}.ts`) || script.includes(entry ?? '')),
        `${name}: no package script runs ${source}.ts`,
      ).toBe(true);
      // After `npm run build` (dist/src is tsc's output; a run from source writes only dist/workflow-bundle.js).
      if (existsSync(join(root, 'dist', 'src')))
        expect(existsSync(join(root, entry ?? '')), entry).toBe(true);
    }
  });

  it('sets only keys of the configuration schema on shipsync services, and every secret from .env', () => {
    const known = Object.keys(configSchema.shape);
    for (const [name, s] of shipsync) {
      const env = s.environment ?? {};
      expect(
        Object.keys(env).filter((k) => !known.includes(k)),
        name,
      ).toEqual([]);
      for (const key of SECRET_KEYS.filter((k) => k in env)) {
        expect(String(env[key]), `${name} ${key}`).toMatch(new RegExp(`^\\$\\{${key}:\\?[^}]+\\}$`));
      }
      if (env.SHIPSYNC_DATABASE_URL !== undefined) {
        expect(String(env.SHIPSYNC_DATABASE_URL)).toContain('${POSTGRES_PASSWORD:?');
      }
    }
    // The sandboxes' development defaults never appear: not in a service, not in a profile.
    for (const [key, value] of Object.entries(SANDBOX_SECRETS)) expect(composeText, key).not.toContain(value);
    for (const p of SANDBOX_PRINCIPALS) expect(composeText, p.id).not.toContain(p.token);
    expect(services.postgresql?.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
  });

  it('points vendor URLs, webhooks and Temporal at compose services by name, never at loopback', () => {
    const names = Object.keys(services);
    for (const [name, s] of shipsync) {
      for (const url of urlsOf(s)) {
        const host = new URL(url).hostname;
        expect(names, `${name}: ${url}`).toContain(host);
      }
      const temporal = s.environment?.SHIPSYNC_TEMPORAL_ADDRESS;
      if (temporal !== undefined) expect(String(temporal), name).toBe('temporal:7233');
    }
    const workerEnv = services['worker-1']?.environment ?? {};
    expect(workerEnv.SHIPSYNC_ERP_URL).toContain('erp-sandbox:4001');
    expect(workerEnv.SHIPSYNC_DISPATCH_URL).toContain('dispatch-sandbox:4002');
    expect(workerEnv.SHIPSYNC_CRM_URL).toContain('crm-sandbox:4003');
  });

  it('gives the gateways one shared PostgreSQL inbox and puts both behind the gateway proxy', () => {
    const urls = ['gateway-1', 'gateway-2'].map((n) => services[n]?.environment?.SHIPSYNC_DATABASE_URL);
    expect(urls[0]).toMatch(/^postgres:\/\/.*@postgresql:5432\/shipsync$/);
    expect(urls[1]).toBe(urls[0]);
    const nginx = read('deploy/nginx/gateway.conf');
    expect([...nginx.matchAll(/server (gateway-\d+):8080/g)].map((m) => m[1])).toEqual([
      'gateway-1',
      'gateway-2',
    ]);
    expect(services.gateway?.volumes?.[0]).toContain('./deploy/nginx/gateway.conf');
  });

  it('points the Web UI at the codec server, which is published where the endpoint says and lets in only the Web UI origin', () => {
    const ui = services['temporal-ui']?.environment ?? {};
    const codec = services['codec-server'];
    expect(String(ui.TEMPORAL_CODEC_ENDPOINT)).toBe('${CODEC_URL:-http://localhost:8888}');
    expect(String(ui.TEMPORAL_CODEC_INCLUDE_CREDENTIALS)).toBe('true');
    expect(codec?.ports).toEqual(['127.0.0.1:${CODEC_PORT:-8888}:8888']);
    expect(String(codec?.environment?.SHIPSYNC_CODEC_PORT)).toBe('8888');
    // The browser's origin is the Web UI's published address, which is also the UI's own CORS origin.
    expect(codec?.environment?.SHIPSYNC_CODEC_CORS_ORIGINS).toBe(ui.TEMPORAL_CORS_ORIGINS);
    expect(codec?.environment?.SHIPSYNC_DATABASE_URL).toBe(
      services['gateway-1']?.environment?.SHIPSYNC_DATABASE_URL,
    );
    expect(codec?.environment?.SHIPSYNC_PRINCIPALS).toBe(
      services['gateway-1']?.environment?.SHIPSYNC_PRINCIPALS,
    );
  });

  it('gives every long-running service a healthcheck and a restart policy; one-shots have neither', () => {
    for (const [name, s] of entries) {
      expect(s.restart, name).toBeDefined();
      if (isOneShot(s)) expect(s.healthcheck, name).toBeUndefined();
      else {
        expect(s.restart, name).toMatch(/^(always|unless-stopped|on-failure)/);
        expect(s.healthcheck?.test, `${name} has no healthcheck`).toBeDefined();
      }
    }
  });

  it('states a condition on every dependency: completed for one-shots, healthy otherwise', () => {
    for (const [name, s] of entries) {
      if (!s.depends_on) continue;
      expect(Array.isArray(s.depends_on), `${name}: depends_on without conditions`).toBe(false);
      for (const [dep, { condition }] of Object.entries(s.depends_on)) {
        const target = services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        expect(condition, `${name} → ${dep}`).toBe(
          target && isOneShot(target) ? 'service_completed_successfully' : 'service_healthy',
        );
      }
    }
    // Nothing of shipsync starts before the namespace and its search attributes exist.
    for (const [name, s] of shipsync.filter(([, s]) => !s.profiles)) {
      const deps = s.depends_on as Record<string, unknown>;
      expect(Object.keys(deps), name).toContain('temporal-setup');
    }
  });

  it("registers exactly shipsync's search attributes and mounts scripts that exist", () => {
    const pairs = String(services['temporal-setup']?.environment?.SEARCH_ATTRIBUTES).trim().split(/\s+/);
    expect(Object.fromEntries(pairs.map((p) => p.split('=')))).toEqual(SEARCH_ATTRIBUTES);
    for (const [name, s] of entries) {
      for (const volume of s.volumes ?? []) {
        const [source] = volume.split(':');
        if (source?.startsWith('./')) expect(existsSync(join(root, source)), `${name}: ${source}`).toBe(true);
      }
      const script = words(s.entrypoint).find((w) => w.startsWith('/deploy/'));
      if (script)
        expect(existsSync(join(root, 'deploy/temporal', script.slice('/deploy/'.length))), name).toBe(true);
    }
  });

  it("has a healthcheck that recognises every shipsync service's role from its command", async () => {
    const { roleOf } = (await import(pathToFileURL(join(root, 'deploy/healthcheck.mjs')).href)) as {
      roleOf: (argv: string[]) => { role: string; port?: number };
    };
    for (const [name, s] of shipsync) {
      const { role, port } = roleOf(words(s.command));
      const expected = name.replace(/-\d+$/, '').replace(/^(erp|dispatch|crm)-sandbox$/, 'sandbox-$1');
      expect(role, name).toBe(expected);
      expect(words(s.healthcheck?.test), name).toContain(role);
      if (role.startsWith('sandbox-')) expect(port, name).toBeGreaterThan(0);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  it('builds in one stage and runs production dependencies as a non-root user with a healthcheck', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev'])
      expect(dockerfile).toContain(step);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/^USER (?!root)\w+/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*deploy\/healthcheck\.mjs/m);
    expect(runtime).not.toMatch(/npm (ci|install)/);
    // The workers' launcher finds jemalloc in the runtime image.
    expect(runtime).toMatch(/apt-get install [^\n]*libjemalloc2/);
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) {
      expect(existsSync(join(root, source ?? '')), source).toBe(true);
    }
  });
});

const composeBinary = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
const missing = 'skipped: the docker-compose binary is not installed (apt-get install -y docker-compose)';

describe.skipIf(!composeBinary)(`docker-compose config${composeBinary ? '' : ` (${missing})`}`, () => {
  /** Runs docker-compose with only PATH from our environment, so no SHIPSYNC_* variable leaks in. */
  const run = (envFile: string, ...args: string[]) =>
    spawnSync(
      'docker-compose',
      ['--project-directory', root, '-f', join(root, 'docker-compose.yml'), '--env-file', envFile, ...args],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
    );

  it(`validates with ${SAMPLE_ENV}; the sandboxes' environment passes the config schema, and production refuses exactly the sample's placeholders until they are replaced`, () => {
    expect(run(join(root, SAMPLE_ENV), '--profile', 'sandbox', 'config', '-q').status).toBe(0);
    const out = run(join(root, SAMPLE_ENV), '--profile', 'sandbox', 'config');
    expect(out.status, out.stderr).toBe(0);
    const resolved = (parse(out.stdout) as { services: Record<string, Service> }).services;
    const fit = {
      SHIPSYNC_PAYLOAD_KEY: randomBytes(32).toString('base64'),
      SHIPSYNC_PRINCIPALS: JSON.stringify([
        {
          id: 'ops',
          kind: 'person',
          roles: ['admin'],
          tokenSha256: tokenHash(randomBytes(32).toString('hex')),
        },
      ]),
      SHIPSYNC_DISPATCH_API_KEY: randomBytes(32).toString('base64'),
      SHIPSYNC_DISPATCH_WEBHOOK_SECRET: randomBytes(32).toString('base64'),
      SHIPSYNC_CRM_WEBHOOK_SECRET: randomBytes(32).toString('base64'),
      SHIPSYNC_ERP_WEBHOOK_TOKEN: randomBytes(32).toString('base64'),
    };
    const placeholders: Record<string, string[]> = {
      gateway: [
        'SHIPSYNC_CRM_WEBHOOK_SECRET',
        'SHIPSYNC_DISPATCH_WEBHOOK_SECRET',
        'SHIPSYNC_ERP_WEBHOOK_TOKEN',
        'SHIPSYNC_PAYLOAD_KEY',
        'SHIPSYNC_PRINCIPALS',
      ],
      worker: ['SHIPSYNC_DISPATCH_API_KEY', 'SHIPSYNC_PAYLOAD_KEY'],
      'codec-server': ['SHIPSYNC_PAYLOAD_KEY', 'SHIPSYNC_PRINCIPALS'],
    };
    for (const [name] of shipsync) {
      const env = Object.fromEntries(
        Object.entries(resolved[name]?.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]),
      );
      if (env.SHIPSYNC_ENV === 'sandbox') {
        expect(() => loadConfig(env), name).not.toThrow();
        continue;
      }
      expect(env.SHIPSYNC_ENV, name).toBe('production');
      const kind = name.startsWith('gateway')
        ? 'gateway'
        : name === 'codec-server'
          ? 'codec-server'
          : 'worker';
      let refused: string[] = [];
      try {
        loadConfig(env, { process: kind });
      } catch (err) {
        refused = (err as ConfigError).issues.map((i) => i.key).sort();
      }
      expect(refused, name).toEqual(placeholders[kind]);
      const replaced = Object.fromEntries(
        Object.keys(env).map((k) => [k, k in fit ? fit[k as keyof typeof fit] : env[k]]),
      );
      expect(() => loadConfig(replaced, { process: kind }), name).not.toThrow();
    }
  });

  it('refuses to run while a secret is missing from .env', () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'shipsync-compose-')), 'empty.env');
    writeFileSync(empty, '');
    const out = run(empty, 'config', '-q');
    expect(out.status).not.toBe(0);
    expect(out.stderr).toMatch(/set (POSTGRES_PASSWORD|SHIPSYNC_\w+) in \.env/);
  });
});
