import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCodecServer } from '../../src/gateway/codec-server.js';
import { AesGcmPayloadCodec, keyringFromConfig, payloadKeyId } from '../../src/platform/codec.js';
import { loadConfig } from '../../src/platform/config.js';
import { openStore, type AuditEntry, type Store } from '../../src/storage/store.js';
import { freePort } from '../support/ports.js';
import { quietLogger } from '../gateway/support.js';
import {
  as,
  call,
  P,
  principalsJson,
  randomSecret,
  runEntryPoint,
  startEntryPoint,
  type TestPrincipal,
} from './support.js';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const k1 = randomSecret();
const k2 = randomSecret();
const recipient = { name: 'Dana Whitfield', phone: '+1 312 555 0142' };

/** A payload as the Web UI posts it: protobuf JSON, bytes as base64. */
function json(p: Payload) {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? []).toString('base64'),
  };
}
function fromJson(p: { metadata: Record<string, string>; data: string }): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data, 'base64'),
  };
}

/** Payloads written by a worker before the rotation (k1) and after it (k2). */
async function stored(keys: string) {
  const ring = keyringFromConfig(loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS: keys }))!;
  return new AesGcmPayloadCodec(ring).encode([defaultPayloadConverter.toPayload(recipient)]);
}

const dir = mkdtempSync(join(tmpdir(), 'shipsync-codec-'));
let store: Store;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  const config = loadConfig({
    SHIPSYNC_ENV: 'sandbox',
    SHIPSYNC_PAYLOAD_KEYS: `k2:${k2},k1:${k1}`,
    SHIPSYNC_PRINCIPALS: principalsJson(Object.values(P)),
    SHIPSYNC_CODEC_CORS_ORIGINS: UI_ORIGIN,
  });
  store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
  app = await createCodecServer({ config, keyring: keyringFromConfig(config)!, store, logger: quietLogger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await app?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

function decode(who: TestPrincipal | undefined, payloads: Payload[], headers: Record<string, string> = {}) {
  return call<{
    payloads?: { metadata: Record<string, string>; data: string }[];
    code?: string;
    message?: string;
  }>(url, 'POST', '/decode', {
    headers: { 'x-namespace': 'default', ...(who ? as(who) : {}), ...headers },
    body: { payloads: payloads.map(json) },
  });
}

async function lastAudit(principalId: string): Promise<AuditEntry | undefined> {
  return (await store.audit.list({ principalId, limit: 1 }))[0];
}

describe('codec server', () => {
  it('when an ops watcher, an admin or an auditor posts payloads of both keys to /decode then each gets them in clear, and the audit trail records who, how many and the namespace', async () => {
    const payloads = [...(await stored(`k1:${k1}`)), ...(await stored(`k2:${k2}`))];
    for (const who of [P.ops, P.admin, P.auditor]) {
      const res = await decode(who, payloads);
      expect(res.status, who.id).toBe(200);
      expect(res.body.payloads?.map((p) => defaultPayloadConverter.fromPayload(fromJson(p)))).toEqual([
        recipient,
        recipient,
      ]);
      expect(await lastAudit(who.id)).toMatchObject({
        principalId: who.id,
        role: who.roles[0],
        action: 'codec.decode',
        route: 'POST /decode',
        statusCode: 200,
        outcome: 'ok',
        detail: { payloads: 2, namespace: 'default', keyIds: ['k1', 'k2'] },
      });
    }
  });

  it('when /decode is called without a token or with an unknown one then it answers 401 and decodes nothing', async () => {
    const payloads = await stored(`k1:${k1}`);
    const anonymous = await decode(undefined, payloads);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(anonymous.body.payloads).toBeUndefined();
    const unknown = await decode(undefined, payloads, { authorization: `Bearer ${randomSecret()}` });
    expect(unknown.status).toBe(401);
  });

  it('when a principal without the ops, auditor or admin role calls /decode then it answers 403 and the refusal is audited', async () => {
    for (const who of [P.agent, P.financeA, P.dispatcher]) {
      const res = await decode(who, await stored(`k1:${k1}`));
      expect(res.status, who.id).toBe(403);
      expect(res.body).toMatchObject({ code: 'FORBIDDEN' });
      expect(res.body.message).toMatch(/allowed: ops, auditor, admin/);
      expect(await lastAudit(who.id)).toMatchObject({
        action: 'codec.decode',
        statusCode: 403,
        outcome: 'FORBIDDEN',
        role: null,
      });
    }
  });

  it('when /encode is called then the payload comes back under the current key, and decodes again', async () => {
    const plain = defaultPayloadConverter.toPayload(recipient);
    const res = await call<{ payloads: { metadata: Record<string, string>; data: string }[] }>(
      url,
      'POST',
      '/encode',
      {
        headers: { ...as(P.auditor), 'x-namespace': 'default' },
        body: { payloads: [json(plain)] },
      },
    );
    expect(res.status).toBe(200);
    const encoded = fromJson(res.body.payloads[0]!);
    expect(payloadKeyId(encoded)).toBe('k2');
    const back = await decode(P.auditor, [encoded]);
    expect(defaultPayloadConverter.fromPayload(fromJson(back.body.payloads![0]!))).toEqual(recipient);
  });

  it('when a payload names a key the ring does not hold then /decode answers 422 naming that key id', async () => {
    const old = await stored(`k0:${randomSecret()}`);
    const res = await decode(P.auditor, old);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: 'PAYLOAD_KEY_UNKNOWN' });
    expect(res.body.message).toMatch(/key id "k0"/);
  });

  it('when the Web UI asks from another namespace then it is refused, the endpoints also answer under a path prefix', async () => {
    const payloads = await stored(`k1:${k1}`);
    expect((await decode(P.auditor, payloads, { 'x-namespace': 'other' })).status).toBe(403);
    const nested = await call(url, 'POST', '/api/default/decode', {
      headers: { ...as(P.auditor), 'x-namespace': 'default' },
      body: { payloads: payloads.map(json) },
    });
    expect(nested.status).toBe(200);
  });

  it('when the configured Web UI origin sends a preflight then it may send Authorization and X-Namespace with credentials; another origin gets no CORS grant', async () => {
    const preflight = (origin: string) =>
      fetch(`${url}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const ok = await preflight(UI_ORIGIN);
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = (ok.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-namespace']));
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // The answer to the real call carries the grant too, or the browser would hide it from the Web UI.
    const res = await fetch(`${url}/decode`, {
      method: 'POST',
      headers: {
        origin: UI_ORIGIN,
        'content-type': 'application/json',
        'x-namespace': 'default',
        ...as(P.auditor),
      },
      body: JSON.stringify({ payloads: (await stored(`k1:${k1}`)).map(json) }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
  });

  it('when an auditor signs in at /session then the cookie alone lets a browser decode; an agent gets no cookie', async () => {
    const session = await fetch(`${url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: P.auditor.token }),
    });
    expect(session.status).toBe(200);
    const setCookie = session.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^shipsync_codec=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=28800/);
    const res = await decode(undefined, await stored(`k1:${k1}`), { cookie: setCookie.split(';')[0]! });
    expect(res.status).toBe(200);
    expect(await lastAudit(P.auditor.id)).toMatchObject({ action: 'codec.decode', outcome: 'ok' });
    const agent = await call(url, 'POST', '/session', { body: { token: P.agent.token } });
    expect(agent.status).toBe(403);
  });

  it('when the audit trail cannot be written then /decode answers 503 and returns no plain text', async () => {
    const payloads = await stored(`k1:${k1}`);
    const broken = await openStore({ backend: 'sqlite', file: join(dir, 'broken.sqlite') });
    const config = loadConfig({
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_PAYLOAD_KEYS: `k1:${k1}`,
      SHIPSYNC_PRINCIPALS: principalsJson([P.auditor]),
    });
    const server = await createCodecServer({
      config,
      keyring: keyringFromConfig(config)!,
      store: broken,
      logger: quietLogger,
    });
    await broken.close();
    try {
      const res = await server.inject({
        method: 'POST',
        url: '/decode',
        headers: { ...as(P.auditor), 'content-type': 'application/json' },
        payload: { payloads: payloads.map(json) },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(res.body).not.toContain(Buffer.from(JSON.stringify(recipient)).toString('base64').slice(0, 12));
    } finally {
      await server.close();
    }
  });
});

describe('npm run codec-server', () => {
  it('when started as its own process then it serves /healthz and decodes for an auditor; in production without principals it refuses to start', async () => {
    const port = await freePort();
    const env = {
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_DATA_DIR: join(dir, 'process'),
      SHIPSYNC_PAYLOAD_KEYS: `k2:${k2},k1:${k1}`,
      SHIPSYNC_PRINCIPALS: principalsJson([P.auditor]),
      SHIPSYNC_CODEC_PORT: String(port),
    };
    const proc = await startEntryPoint('src/gateway/codec-main.ts', env, /codec server listening/);
    try {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const res = await call<{ payloads: { metadata: Record<string, string>; data: string }[] }>(
        `http://127.0.0.1:${port}`,
        'POST',
        '/decode',
        {
          headers: { ...as(P.auditor), 'x-namespace': 'default' },
          body: { payloads: (await stored(`k1:${k1}`)).map(json) },
        },
      );
      expect(res.status).toBe(200);
      expect(defaultPayloadConverter.fromPayload(fromJson(res.body.payloads[0]!))).toEqual(recipient);
    } finally {
      expect(await proc.stop()).toBe(0);
    }
    const refused = await runEntryPoint('src/gateway/codec-main.ts', {
      SHIPSYNC_ENV: 'production',
      SHIPSYNC_PAYLOAD_KEYS: `k1:${k1}`,
      SHIPSYNC_CODEC_PORT: String(port),
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^codec-server: SHIPSYNC_PRINCIPALS: missing/m);
  });
});
