import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/platform/config.js';
import { temporalConnectionOptions } from '../../src/platform/temporal-client.js';
import { makeDevCertificates, type DevCertificates } from '../../tools/tls.js';
import {
  cachedServerDir,
  startTemporalForTests,
  TEMPORAL_SERVER_VERSION,
  type TestTemporal,
} from '../../tools/temporal/postgres.js';
import * as activities from '../unit/temporal-postgres/activities.js';
import type { echoWorkflow } from '../unit/temporal-postgres/workflows.js';
import { runEntryPoint, startEntryPoint } from './support.js';

// The acceptance test of Temporal over mutual TLS: the PostgreSQL-backed server (tools/temporal/postgres)
// started with its frontend requiring client certificates, certificates made for this run with openssl.
// It needs the server binaries, which take minutes of `go install` to build, so it skips without them.

const PROVISIONED =
  existsSync(join(cachedServerDir(), 'temporal-server')) &&
  existsSync(join(cachedServerDir(), 'temporal-sql-tool'));
const NOT_PROVISIONED = `temporal-server ${TEMPORAL_SERVER_VERSION} is not provisioned in ${cachedServerDir()}: run \`npm run temporal:provision -- --postgres-server\` (a one-time go install of several minutes)`;

if (!PROVISIONED) console.warn(`[temporal-mtls] skipped: ${NOT_PROVISIONED}`);

Runtime.install({ logger: new DefaultLogger('WARN') });

const dir = mkdtempSync(join(tmpdir(), 'shipsync-mtls-'));
let certs: DevCertificates;
let temporal: TestTemporal | undefined;

beforeAll(async () => {
  if (!PROVISIONED) return;
  certs = await makeDevCertificates(join(dir, 'pki'), { clientName: 'shipsync-worker' });
  temporal = await startTemporalForTests(
    'postgres',
    (line) => console.log(`[temporal-mtls] ${line}`),
    undefined,
    {
      caFile: certs.ca,
      certFile: certs.serverCert,
      keyFile: certs.serverKey,
      clientCertFile: certs.clientCert,
      clientKeyFile: certs.clientKey,
      serverName: 'localhost',
    },
  );
}, 180_000);

afterAll(async () => {
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** The SHIPSYNC_TEMPORAL_* keys of a process reaching the TLS server, with or without a client certificate. */
function temporalEnv(withClientCert: boolean): Record<string, string> {
  return {
    SHIPSYNC_TEMPORAL_ADDRESS: temporal?.address ?? '',
    SHIPSYNC_TEMPORAL_TLS_CA: certs.ca,
    SHIPSYNC_TEMPORAL_TLS_SERVER_NAME: 'localhost',
    ...(withClientCert
      ? { SHIPSYNC_TEMPORAL_TLS_CERT: certs.clientCert, SHIPSYNC_TEMPORAL_TLS_KEY: certs.clientKey }
      : {}),
  };
}

/** Connection options as shipsync's configuration maps them. */
function optionsFor(withClientCert: boolean) {
  return temporalConnectionOptions(loadConfig({ SHIPSYNC_ENV: 'sandbox', ...temporalEnv(withClientCert) }));
}

describe('Temporal over mutual TLS (PostgreSQL-backed server with --tls)', () => {
  it('when a worker connects with the configured CA, client certificate and key then it runs a workflow over mTLS', async (ctx) => {
    if (!PROVISIONED) ctx.skip(NOT_PROVISIONED);
    const options = optionsFor(true);
    expect(options.tls?.clientCertPair).toBeDefined();
    const workerConnection = await NativeConnection.connect(options);
    const connection = await Connection.connect(options);
    try {
      const taskQueue = `test-mtls-${randomUUID().slice(0, 8)}`;
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: 'default',
        taskQueue,
        workflowsPath: fileURLToPath(new URL('../unit/temporal-postgres/workflows.ts', import.meta.url)),
        activities,
      });
      const client = new Client({ connection, namespace: 'default' });
      const result = await worker.runUntil(
        client.workflow.execute<typeof echoWorkflow>('echoWorkflow', {
          taskQueue,
          workflowId: `mtls-${randomUUID()}`,
          args: ['over mutual tls', `mtls-${randomUUID().slice(0, 8)}`],
        }),
      );
      expect(result).toBe('OVER MUTUAL TLS!');
    } finally {
      await connection.close();
      await workerConnection.close();
    }
  });

  it('when a worker connects without a client certificate then the server refuses it', async (ctx) => {
    if (!PROVISIONED) ctx.skip(NOT_PROVISIONED);
    const options = optionsFor(false);
    expect(options.tls).toBeDefined();
    expect(options.tls?.clientCertPair).toBeUndefined();
    const err = await NativeConnection.connect(options).then(
      async (c) => {
        await c.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    // The server ends the handshake with TLS's certificate_required alert; whether the client reads the
    // alert or only sees the connection close (closed, cancelled, or a broken pipe when it was still writing)
    // depends on timing. Everything else equals the test above, where the same CA and server name with the
    // client certificate connect.
    expect(String(err)).toMatch(
      /TransportError.*(CertificateRequired|connection closed|operation was canceled|broken pipe)/,
    );
  });

  it('when a client connects in plain gRPC then the TLS frontend refuses it', async (ctx) => {
    if (!PROVISIONED) ctx.skip(NOT_PROVISIONED);
    await expect(
      (async () => {
        const c = await Connection.connect({ address: temporal!.address, connectTimeout: '3s' });
        try {
          await c.workflowService.getSystemInfo({});
        } finally {
          await c.close();
        }
      })(),
    ).rejects.toThrow();
  });

  it('when `npm run worker` starts with SHIPSYNC_TEMPORAL_TLS_* including a client certificate then its workers run over mTLS', async (ctx) => {
    if (!PROVISIONED) ctx.skip(NOT_PROVISIONED);
    const worker = await startEntryPoint(
      'src/workers/main.ts',
      { SHIPSYNC_ENV: 'sandbox', SHIPSYNC_TASK_QUEUE_PREFIX: 'mtls', ...temporalEnv(true) },
      /workers running/,
      120_000,
    );
    try {
      expect(worker.output()).toContain(
        '"transport":"TLS, configured CA, client certificate (mTLS), server name localhost"',
      );
    } finally {
      await worker.stop();
    }
  }, 150_000);

  it('when `npm run worker` starts without a client certificate then it exits non-zero with one line saying Temporal refused it', async (ctx) => {
    if (!PROVISIONED) ctx.skip(NOT_PROVISIONED);
    const res = await runEntryPoint(
      'src/workers/main.ts',
      { SHIPSYNC_ENV: 'sandbox', SHIPSYNC_TASK_QUEUE_PREFIX: 'mtls', ...temporalEnv(false) },
      120_000,
    );
    expect(res.code).toBe(1);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^worker: cannot connect to Temporal at 127\.0\.0\.1:\d+ \(TLS, configured CA, server name localhost\): .+; a frontend that requires client certificates refuses this: set SHIPSYNC_TEMPORAL_TLS_CERT and SHIPSYNC_TEMPORAL_TLS_KEY$/,
    );
  }, 150_000);
});
