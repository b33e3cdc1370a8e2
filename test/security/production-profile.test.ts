import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SANDBOX_SECRETS } from '../../src/platform/config.js';
import { temporalAddress } from '../support/temporal.js';
import { freePort } from '../support/ports.js';
import { P, principalsJson, randomSecret, runEntryPoint, startEntryPoint } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'shipsync-production-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The lines a refused process printed about its keys (its last line sums them up). */
function keyLines(stderr: string, process: string): string[] {
  return stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith(`${process}: SHIPSYNC_`));
}

/** Everything a production gateway needs, each value fit for production. */
function productionGatewayEnv(): Record<string, string> {
  return {
    SHIPSYNC_ENV: 'production',
    // A proxy in front terminates TLS (test/security/transport.test.ts starts one serving HTTPS itself).
    SHIPSYNC_GATEWAY_BEHIND_PROXY: 'true',
    SHIPSYNC_DATA_DIR: dir,
    SHIPSYNC_PAYLOAD_KEY: randomSecret(),
    SHIPSYNC_PRINCIPALS: principalsJson([P.admin, P.auditor]),
    SHIPSYNC_DISPATCH_WEBHOOK_SECRET: randomSecret(),
    SHIPSYNC_CRM_WEBHOOK_SECRET: randomSecret(),
    SHIPSYNC_ERP_WEBHOOK_TOKEN: randomSecret(),
  };
}

describe('production profile', () => {
  it('when the gateway starts in production with no other key then it exits 2 naming each missing key on its own line', async () => {
    const res = await runEntryPoint('src/gateway/main.ts', { SHIPSYNC_ENV: 'production' });
    expect(res.code).toBe(2);
    expect(keyLines(res.stderr, 'gateway')).toEqual([
      expect.stringMatching(/^gateway: SHIPSYNC_GATEWAY_TLS_CERT: missing: production serves HTTPS/),
      'gateway: SHIPSYNC_DISPATCH_WEBHOOK_SECRET: missing',
      'gateway: SHIPSYNC_CRM_WEBHOOK_SECRET: missing',
      'gateway: SHIPSYNC_ERP_WEBHOOK_TOKEN: missing',
      expect.stringMatching(/^gateway: SHIPSYNC_PAYLOAD_KEY: missing/),
      expect.stringMatching(/^gateway: SHIPSYNC_PRINCIPALS: missing/),
    ]);
    expect(res.stderr).toMatch(/refusing to start \(6 configuration problem/);
  });

  it('when the worker starts in production with no other key then it exits 2 naming the dispatch key and the payload key', async () => {
    const res = await runEntryPoint('src/workers/main.ts', { SHIPSYNC_ENV: 'production' });
    expect(res.code).toBe(2);
    expect(keyLines(res.stderr, 'worker')).toEqual([
      'worker: SHIPSYNC_DISPATCH_API_KEY: missing',
      expect.stringMatching(/^worker: SHIPSYNC_PAYLOAD_KEY: missing/),
    ]);
  });

  it('when a sandbox secret, a short secret, an empty key or a development token is given in production then each is refused on its own line', async () => {
    const res = await runEntryPoint('src/gateway/main.ts', {
      ...productionGatewayEnv(),
      SHIPSYNC_DISPATCH_WEBHOOK_SECRET: SANDBOX_SECRETS.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
      SHIPSYNC_CRM_WEBHOOK_SECRET: 'only-twenty-characters',
      SHIPSYNC_ERP_WEBHOOK_TOKEN: '',
      SHIPSYNC_API_TOKENS: '',
      SHIPSYNC_PRINCIPALS: principalsJson([P.admin, { ...P.financeA, token: 'dev-finance' }]),
    });
    expect(res.code).toBe(2);
    expect(keyLines(res.stderr, 'gateway').sort()).toEqual(
      [
        'gateway: SHIPSYNC_API_TOKENS: retired: API tokens are principals now (SHIPSYNC_PRINCIPALS or SHIPSYNC_PRINCIPALS_FILE, tokens as SHA-256 hashes; docs/security.md)',
        'gateway: SHIPSYNC_CRM_WEBHOOK_SECRET: shorter than 32 characters (openssl rand -base64 32 makes one)',
        'gateway: SHIPSYNC_DISPATCH_WEBHOOK_SECRET: equals a sandbox default, which is published',
        'gateway: SHIPSYNC_ERP_WEBHOOK_TOKEN: empty: unset it or give it a value',
        `gateway: SHIPSYNC_PRINCIPALS: the token of ${P.financeA.id} is a sandbox development token, which is published`,
      ].sort(),
    );
    // No secret value is ever repeated back.
    expect(res.stderr).not.toContain('sandbox-dispatch-webhook-secret');
    expect(res.stderr).not.toContain('only-twenty-characters');
  });

  it('when every key is fit then the production gateway starts on loopback, refuses the development tokens and keeps /metrics and /docs behind a token', async () => {
    const port = await freePort();
    const principalsFile = join(dir, 'principals.json');
    const env = productionGatewayEnv();
    writeFileSync(principalsFile, env.SHIPSYNC_PRINCIPALS!);
    delete env.SHIPSYNC_PRINCIPALS;
    const gateway = await startEntryPoint(
      'src/gateway/main.ts',
      {
        ...env,
        SHIPSYNC_PRINCIPALS_FILE: principalsFile,
        SHIPSYNC_GATEWAY_PORT: String(port),
        SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress(),
      },
      /gateway listening/,
    );
    try {
      expect(gateway.output()).toMatch(/"host":"127\.0\.0\.1".*"profile":"production","principals":2/);
      const url = `http://127.0.0.1:${port}`;
      const get = (path: string, token?: string) =>
        fetch(`${url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      expect((await get('/healthz')).status).toBe(200);
      expect((await get('/v1/dead-letters', 'dev-admin')).status).toBe(401);
      expect((await get('/v1/dead-letters', P.admin.token)).status).toBe(200);
      expect((await get('/metrics')).status).toBe(401);
      expect((await get('/metrics', P.auditor.token)).status).toBe(200);
      expect((await get('/docs/json')).status).toBe(401);
      expect((await get('/docs/json', P.auditor.token)).status).toBe(200);
      const sandboxSigned = await fetch(`${url}/webhooks/erp/releases`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${SANDBOX_SECRETS.SHIPSYNC_ERP_WEBHOOK_TOKEN}`,
        },
        body: '{}',
      });
      expect(sandboxSigned.status).toBe(401);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });
});
