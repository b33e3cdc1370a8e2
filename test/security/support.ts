import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { createGateway, type Gateway } from '../../src/gateway/app.js';
import { loadConfig, tokenHash, type Config, type Role } from '../../src/platform/config.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { quietLogger } from '../gateway/support.js';

/** A principal of the security tests, with its (random, 43-character) token. */
export interface TestPrincipal {
  id: string;
  kind: 'person' | 'service';
  roles: Role[];
  token: string;
}

const token = () => randomBytes(32).toString('base64url');

/**
 * The principals every security test uses: two finance people, an admin, an agent, a dispatcher, an auditor and
 * an operations watcher.
 */
export const P = {
  financeA: { id: 'fin-ana', kind: 'person', roles: ['finance'], token: token() },
  financeB: { id: 'fin-bo', kind: 'person', roles: ['finance'], token: token() },
  admin: { id: 'ops-admin', kind: 'person', roles: ['admin'], token: token() },
  agent: { id: 'desk-agent', kind: 'person', roles: ['agent'], token: token() },
  dispatcher: { id: 'route-bot', kind: 'service', roles: ['dispatcher'], token: token() },
  auditor: { id: 'audit-eve', kind: 'person', roles: ['auditor'], token: token() },
  ops: { id: 'ops-omar', kind: 'person', roles: ['ops'], token: token() },
} satisfies Record<string, TestPrincipal>;

/** The SHIPSYNC_PRINCIPALS value of a set of principals: hashes only. */
export function principalsJson(list: TestPrincipal[]): string {
  return JSON.stringify(
    list.map((p) => ({ id: p.id, kind: p.kind, roles: p.roles, tokenSha256: tokenHash(p.token) })),
  );
}

/** The Authorization header of a principal. */
export function as(p: TestPrincipal): Record<string, string> {
  return { authorization: `Bearer ${p.token}` };
}

/** A gateway over HTTP with the test principals, on its own SQLite store in a temp folder. */
export interface SecureGateway {
  url: string;
  gateway: Gateway;
  store: Store;
  config: Config;
  close(): Promise<void>;
}

/** Starts a real gateway listening on a free port, with the test principals configured. */
export async function startSecureGateway(
  client: Client,
  env: Record<string, string> = {},
): Promise<SecureGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'shipsync-security-'));
  const config = loadConfig({
    SHIPSYNC_ENV: 'sandbox',
    SHIPSYNC_LOG_LEVEL: 'silent',
    SHIPSYNC_PRINCIPALS: principalsJson(Object.values(P)),
    ...env,
  });
  const store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
  const gateway = await createGateway({
    config,
    client,
    store,
    logger: quietLogger,
    defaultMetrics: false,
    forwarder: { idleMs: 50, baseBackoffMs: 100, maxBackoffMs: 1_000, jitter: 0 },
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  gateway.forwarder.start();
  const url = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`;
  return {
    url,
    gateway,
    store,
    config,
    async close() {
      await gateway.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An HTTP answer: status and parsed JSON body. */
export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** Sends a JSON request over HTTP. */
export async function call<T = Record<string, unknown>>(
  url: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { headers?: Record<string, string>; body?: unknown; raw?: string } = {},
): Promise<Answer<T>> {
  const hasBody = opts.body !== undefined || opts.raw !== undefined;
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    ...(hasBody ? { body: opts.raw ?? JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, body: body as T };
}

/** A POST with a fresh Idempotency-Key (or the given one) as a principal. */
export function post<T = Record<string, unknown>>(
  url: string,
  path: string,
  who: TestPrincipal,
  body: unknown,
  key = `k-${randomBytes(6).toString('hex')}`,
): Promise<Answer<T>> {
  return call<T>(url, 'POST', path, { headers: { ...as(who), 'idempotency-key': key }, body });
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What a process printed and how it ended. */
export interface Exited {
  code: number | null;
  stderr: string;
  stdout: string;
}

/**
 * Runs an entry point (`src/gateway/main.ts`, `src/workers/main.ts`) as its own process with exactly the
 * given environment (plus PATH and HOME), never the test's own SHIPSYNC_* keys; waits until it exits.
 */
export function runEntryPoint(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} did not exit in ${timeoutMs} ms: ${stderr}${stdout}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

/**
 * Starts an entry point that keeps running; resolves once `ready` matches its output. With `launcher`
 * (`bin/with-jemalloc`) Node starts through it, as a deployment starts the worker.
 */
export function startEntryPoint(
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 60_000,
  launcher?: string,
): Promise<{ output: () => string; stop: () => Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const node = [process.execPath, '--import', 'tsx', entry];
    const [command = process.execPath, ...args] = launcher ? [launcher, ...node] : node;
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} not ready in ${timeoutMs} ms: ${output}`));
    }, timeoutMs);
    const seen = (b: Buffer) => {
      output += b.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve({
          output: () => output,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${code} before it was ready: ${output}`));
    });
  });
}

/** base64 of 32 random bytes: a payload key or a secret as production wants them. */
export function randomSecret(): string {
  return randomBytes(32).toString('base64');
}
