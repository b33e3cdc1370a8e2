import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../src/platform/config.js';
import { temporalConnectionOptions } from '../../src/platform/temporal-client.js';
import { openDb } from '../../src/storage/db.js';
import { storeTargetFromConfig } from '../../src/storage/store.js';
import { makeDevCertificates, type DevCertificates } from '../../tools/tls.js';
import { TEST_PG_URL } from '../unit/storage/backends.js';
import { freePort } from '../support/ports.js';
import { temporalAddress } from '../support/temporal.js';
import {
  P,
  principalsJson,
  randomSecret,
  runEntryPoint,
  startEntryPoint,
  startSecureGateway,
} from './support.js';

// Certificates are made for this run with the openssl command; nothing is checked in.
const dir = mkdtempSync(join(tmpdir(), 'shipsync-transport-'));
let certs: DevCertificates;
let otherCa: DevCertificates;

beforeAll(async () => {
  certs = await makeDevCertificates(join(dir, 'pki'));
  otherCa = await makeDevCertificates(join(dir, 'other'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** GET over HTTPS trusting only `ca`; resolves with the status and body, rejects on a TLS failure. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca: readFileSync(ca) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET over plain HTTP; resolves with the status, or with the error code when the exchange fails. */
function httpGet(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(5_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    req.end();
  });
}

/** Everything a production gateway needs except how it serves TLS. */
function productionGatewayEnv(): Record<string, string> {
  return {
    SHIPSYNC_ENV: 'production',
    SHIPSYNC_DATA_DIR: dir,
    SHIPSYNC_PAYLOAD_KEY: randomSecret(),
    SHIPSYNC_PRINCIPALS: principalsJson([P.admin]),
    SHIPSYNC_DISPATCH_WEBHOOK_SECRET: randomSecret(),
    SHIPSYNC_CRM_WEBHOOK_SECRET: randomSecret(),
    SHIPSYNC_ERP_WEBHOOK_TOKEN: randomSecret(),
  };
}

describe('gateway HTTPS', () => {
  let connection: Connection;
  let client: Client;
  beforeAll(() => {
    connection = Connection.lazy({ address: temporalAddress() });
    client = new Client({ connection, namespace: 'default' });
  });
  afterAll(async () => connection?.close());

  it('when a certificate and key are configured then the gateway serves HTTPS to a client trusting its CA', async () => {
    const gw = await startSecureGateway(client, {
      SHIPSYNC_GATEWAY_TLS_CERT: certs.serverCert,
      SHIPSYNC_GATEWAY_TLS_KEY: certs.serverKey,
    });
    try {
      const url = gw.url.replace('http://127.0.0.1', 'https://localhost');
      const res = await httpsGet(`${url}/v1/dead-letters`, certs.ca);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await gw.close();
    }
  });

  it('when the gateway serves HTTPS then a client that does not trust its CA is refused during the handshake', async () => {
    const gw = await startSecureGateway(client, {
      SHIPSYNC_GATEWAY_TLS_CERT: certs.serverCert,
      SHIPSYNC_GATEWAY_TLS_KEY: certs.serverKey,
    });
    try {
      const url = gw.url.replace('http://', 'https://');
      await expect(httpsGet(`${url}/healthz`, otherCa.ca)).rejects.toMatchObject({
        code: expect.stringMatching(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/),
      });
    } finally {
      await gw.close();
    }
  });

  it('when the gateway serves HTTPS then a plain HTTP request gets no answer from it', async () => {
    const gw = await startSecureGateway(client, {
      SHIPSYNC_GATEWAY_TLS_CERT: certs.serverCert,
      SHIPSYNC_GATEWAY_TLS_KEY: certs.serverKey,
    });
    try {
      const outcome = await httpGet(`${gw.url}/healthz`);
      expect(outcome).not.toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('when a production gateway has a certificate and key then it starts over HTTPS and answers a real request', async () => {
    const port = await freePort();
    const gateway = await startEntryPoint(
      'src/gateway/main.ts',
      {
        ...productionGatewayEnv(),
        SHIPSYNC_GATEWAY_TLS_CERT: certs.serverCert,
        SHIPSYNC_GATEWAY_TLS_KEY: certs.serverKey,
        SHIPSYNC_GATEWAY_PORT: String(port),
        SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress(),
      },
      /gateway listening/,
    );
    try {
      expect(gateway.output()).toMatch(/"scheme":"https"/);
      const res = await httpsGet(`https://localhost:${port}/v1/dead-letters?limit=1`, certs.ca);
      expect(res.status).toBe(401);
      const authorized = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          `https://localhost:${port}/v1/dead-letters`,
          { ca: readFileSync(certs.ca), headers: { authorization: `Bearer ${P.admin.token}` } },
          (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(authorized).toBe(200);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });

  it('when a production gateway has neither a certificate nor SHIPSYNC_GATEWAY_BEHIND_PROXY then it refuses to start with one line naming the key', async () => {
    const res = await runEntryPoint('src/gateway/main.ts', productionGatewayEnv());
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([
      'gateway: SHIPSYNC_GATEWAY_TLS_CERT: missing: production serves HTTPS (set it and SHIPSYNC_GATEWAY_TLS_KEY), or set SHIPSYNC_GATEWAY_BEHIND_PROXY=true when a proxy in front terminates TLS',
      'gateway: refusing to start (1 configuration problem(s); see .env.example)',
    ]);
  });

  it('when SHIPSYNC_GATEWAY_BEHIND_PROXY is true then production accepts plain HTTP behind the proxy', () => {
    expect(() =>
      loadConfig(
        { ...productionGatewayEnv(), SHIPSYNC_GATEWAY_BEHIND_PROXY: 'true' },
        { process: 'gateway' },
      ),
    ).not.toThrow();
  });

  it('when only one of the certificate and the key is set, or a file cannot be read, then each key is refused on its own line', () => {
    let issues: string[] = [];
    try {
      loadConfig({
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_GATEWAY_TLS_CERT: certs.serverCert,
        SHIPSYNC_TEMPORAL_TLS_CA: join(dir, 'no-such-ca.pem'),
      });
    } catch (err) {
      issues = (err as ConfigError).lines();
    }
    expect(issues).toEqual([
      `SHIPSYNC_TEMPORAL_TLS_CA: cannot read ${join(dir, 'no-such-ca.pem')}: ENOENT`,
      'SHIPSYNC_GATEWAY_TLS_KEY: missing: SHIPSYNC_GATEWAY_TLS_CERT is set, and a certificate needs its private key',
    ]);
  });
});

describe('Temporal connection options', () => {
  it('when nothing is configured then the connection is plain gRPC to the address', () => {
    expect(temporalConnectionOptions(loadConfig({ SHIPSYNC_ENV: 'sandbox' }))).toEqual({
      address: '127.0.0.1:7233',
    });
  });

  it('when a CA, a client certificate, its key and a server name are configured then the connection is mutual TLS with them', () => {
    const config = loadConfig({
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_TEMPORAL_ADDRESS: 'temporal.internal:7233',
      SHIPSYNC_TEMPORAL_TLS_CA: certs.ca,
      SHIPSYNC_TEMPORAL_TLS_CERT: certs.clientCert,
      SHIPSYNC_TEMPORAL_TLS_KEY: certs.clientKey,
      SHIPSYNC_TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    expect(temporalConnectionOptions(config)).toEqual({
      address: 'temporal.internal:7233',
      tls: {
        serverNameOverride: 'localhost',
        serverRootCACertificate: readFileSync(certs.ca),
        clientCertPair: { crt: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
      },
    });
  });

  it('when an API key is configured (Temporal Cloud) then the connection is TLS with the system CAs and carries the key', () => {
    const apiKey = `eyJ${randomSecret().replace(/[+/=]/g, 'x')}`;
    const config = loadConfig({
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      SHIPSYNC_TEMPORAL_NAMESPACE: 'shipsync.a1b2c',
      SHIPSYNC_TEMPORAL_API_KEY: apiKey,
    });
    expect(temporalConnectionOptions(config)).toEqual({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey,
    });
  });

  it('when SHIPSYNC_TEMPORAL_TLS is true alone then the connection is TLS with the system CAs and no client certificate', () => {
    const config = loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_TEMPORAL_TLS: 'true' });
    expect(temporalConnectionOptions(config)).toEqual({ address: '127.0.0.1:7233', tls: {} });
  });

  it('when SHIPSYNC_TEMPORAL_TLS is false while an API key is set then the configuration is refused rather than sending the key in the clear', () => {
    expect(() =>
      loadConfig({
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_TEMPORAL_TLS: 'false',
        SHIPSYNC_TEMPORAL_API_KEY: 'k'.repeat(40),
      }),
    ).toThrow(/SHIPSYNC_TEMPORAL_TLS: false, but SHIPSYNC_TEMPORAL_API_KEY needs TLS/);
  });
});

describe('PostgreSQL TLS of the gateway store', () => {
  /** Whether the machine's PostgreSQL offers TLS at all (Debian's does, with its snake-oil certificate). */
  async function serverOffersTls(): Promise<boolean> {
    const db = await openDb({ backend: 'postgres', url: TEST_PG_URL });
    try {
      const { rows } = await sql<{ ssl: string }>`show ssl`.execute(db.kysely);
      return rows[0]?.ssl === 'on';
    } catch {
      return false;
    } finally {
      await db.close();
    }
  }

  it('when SHIPSYNC_DATABASE_SSL=require then the store connects over TLS', async (ctx) => {
    if (!(await serverOffersTls())) ctx.skip('the PostgreSQL at SHIPSYNC_TEST_DATABASE_URL has ssl off');
    const target = storeTargetFromConfig(
      loadConfig({
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_DATABASE_URL: TEST_PG_URL,
        SHIPSYNC_DATABASE_SSL: 'require',
      }),
    );
    expect(target).toMatchObject({ backend: 'postgres', ssl: { rejectUnauthorized: false } });
    const db = await openDb(target);
    try {
      const { rows } = await sql<{
        ssl: boolean;
      }>`select ssl from pg_stat_ssl where pid = pg_backend_pid()`.execute(db.kysely);
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await db.close();
    }
  });

  it('when SHIPSYNC_DATABASE_SSL=verify-full names a CA that did not sign the server certificate then the connection is refused', async (ctx) => {
    if (!(await serverOffersTls())) ctx.skip('the PostgreSQL at SHIPSYNC_TEST_DATABASE_URL has ssl off');
    const target = storeTargetFromConfig(
      loadConfig({
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_DATABASE_URL: TEST_PG_URL,
        SHIPSYNC_DATABASE_SSL: 'verify-full',
        SHIPSYNC_DATABASE_SSL_CA: otherCa.ca,
      }),
    );
    const db = await openDb(target);
    try {
      await expect(sql`select 1`.execute(db.kysely)).rejects.toThrow(/certificate|self.signed|verify/i);
    } finally {
      await db.close();
    }
  });

  it('when SHIPSYNC_DATABASE_URL carries its own sslmode and SHIPSYNC_DATABASE_SSL is set too then the configuration is refused', () => {
    expect(() =>
      loadConfig({
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_DATABASE_URL: `${TEST_PG_URL}?sslmode=require`,
        SHIPSYNC_DATABASE_SSL: 'verify-full',
      }),
    ).toThrow(/SHIPSYNC_DATABASE_SSL: SHIPSYNC_DATABASE_URL has its own sslmode/);
  });
});
