import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCodecServer } from '../../src/gateway/codec-server.js';
import { dataConverterFromConfig, keyringFromConfig } from '../../src/platform/codec.js';
import { loadConfig } from '../../src/platform/config.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { startDevServer, type DevServer } from '../../tools/temporal/cli.js';
import { browserSkipReason, chromiumPath, launchBrowser } from '../support/browser.js';
import { freePort } from '../support/ports.js';
import { startStack, type Stack } from '../support/stack.js';
import { quietLogger } from '../gateway/support.js';
import { P, principalsJson, randomSecret, startEntryPoint } from './support.js';

/**
 * The Web UI's codec settings of one browser, as its codec server dialog keeps them in local storage: the
 * endpoint, cross-origin credentials included, and the browser's setting over the server's.
 */
function codecSettings(endpoint: string) {
  const set = (key: string, value: unknown) =>
    `localStorage.setItem(${JSON.stringify(key)}, ${JSON.stringify(JSON.stringify(value))});`;
  return {
    content: [
      set('endpoint', endpoint),
      set('includeCredentials', true),
      set('overrideRemoteCodecConfiguration', true),
    ].join('\n'),
  };
}

/** Where the screenshot goes: docs/security/ when SHIPSYNC_TEST_SCREENSHOTS=1 (to refresh the docs), else a temp dir. */
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/security/web-ui-decoded.png', import.meta.url));

describe('npm run temporal with a codec server', () => {
  it('when SHIPSYNC_CODEC_URL is set then the Web UI it starts announces that codec endpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipsync-temporal-'));
    const [port, uiPort] = [await freePort(), await freePort()];
    const codecUrl = 'http://127.0.0.1:18888';
    const server = await startEntryPoint(
      'tools/temporal/server.ts',
      {
        SHIPSYNC_TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        SHIPSYNC_TEMPORAL_UI_PORT: String(uiPort),
        SHIPSYNC_DATA_DIR: dir,
        SHIPSYNC_CODEC_URL: codecUrl,
        TEMPORAL_CLI_PATH: inject('temporalCliPath'),
      },
      /press Ctrl-C to stop/,
      120_000,
    );
    try {
      expect(server.output()).toContain(`codec server:      ${codecUrl}`);
      const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as {
        Codec?: { Endpoint?: string };
        codec?: { endpoint?: string };
      };
      expect(settings.Codec?.Endpoint ?? settings.codec?.endpoint).toBe(codecUrl);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe.skipIf(!chromiumPath)(
  `Temporal Web UI with the codec server${browserSkipReason ? ` (${browserSkipReason})` : ''}`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipsync-web-ui-'));
    const config = loadConfig({
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_PAYLOAD_KEYS: `k1:${randomSecret()}`,
      SHIPSYNC_PRINCIPALS: principalsJson(Object.values(P)),
    });
    let dev: DevServer;
    let codec: FastifyInstance;
    let store: Store;
    let stack: Stack;
    let browser: Browser;
    let codecUrl: string;
    let uiOrigin: string;

    beforeAll(async () => {
      const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
      codecUrl = `http://127.0.0.1:${codecPort}`;
      uiOrigin = `http://127.0.0.1:${uiPort}`;
      store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
      codec = await createCodecServer({
        config: { ...config, SHIPSYNC_CODEC_CORS_ORIGINS: [uiOrigin] },
        keyring: keyringFromConfig(config)!,
        store,
        logger: quietLogger,
      });
      await codec.listen({ host: '127.0.0.1', port: codecPort });
      dev = await startDevServer({
        cliPath: inject('temporalCliPath'),
        port,
        uiPort,
        namespace: 'default',
        uiCodecEndpoint: codecUrl,
      });
      stack = await startStack({ address: dev.address, dataConverter: dataConverterFromConfig(config) });
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
      await stack?.close();
      await dev?.stop();
      await codec?.close();
      await store?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('when an ops watcher signs in at the codec server and opens an encrypted shipment in the Web UI then its input shows decoded, and the decode is in the audit trail', async () => {
      const { order, workflowId } = await stack.start();
      await stack.waitFor(workflowId, (s) => s.phase === 'published');
      // The dev server's Web UI announces the codec endpoint it was started with (--ui-codec-endpoint).
      const settings = (await (await fetch(`${uiOrigin}/api/v1/settings`)).json()) as {
        Codec?: { Endpoint?: string };
        codec?: { endpoint?: string };
      };
      expect(settings.Codec?.Endpoint ?? settings.codec?.endpoint).toBe(codecUrl);
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      try {
        // The Web UI's codec settings in this browser, as its Codec Server dialog stores them: the endpoint
        //    the dev server announced, with cross-origin credentials (the cookie) included.
        await context.addInitScript(codecSettings(codecUrl));

        const page = await context.newPage();
        // 1. The operator signs in at the codec server: an HTTP-only cookie of the codec server's origin.
        await page.goto(`${codecUrl}/session`);
        await page.getByLabel('token').fill(P.ops.token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await expect.poll(() => page.getByRole('status').textContent()).toBe('Signed in as ops-omar (ops)');

        // 2. The shipment in the Web UI: its input, encrypted in Temporal, shows in clear.
        const decodes: number[] = [];
        page.on('response', (res) => {
          if (res.url().startsWith(`${codecUrl}/decode`) && res.request().method() === 'POST')
            decodes.push(res.status());
        });
        await page.goto(`${uiOrigin}/namespaces/default/workflows/${workflowId}`);
        await page.getByText(order.recipient.name).first().waitFor({ state: 'visible', timeout: 30_000 });
        expect(decodes.length).toBeGreaterThan(0);
        expect(decodes.every((s) => s === 200)).toBe(true);
        await page.getByText(order.address.street).first().waitFor({ state: 'visible' });

        const path =
          process.env.SHIPSYNC_TEST_SCREENSHOTS === '1' ? DOCS_SCREENSHOT : join(dir, 'web-ui-decoded.png');
        mkdirSync(join(path, '..'), { recursive: true });
        await page.getByText(order.recipient.name).first().scrollIntoViewIfNeeded();
        await page.screenshot({ path });

        const rows = await store.audit.list({ principalId: P.ops.id });
        expect(rows.some((r) => r.action === 'codec.decode' && r.outcome === 'ok')).toBe(true);
        expect(rows.find((r) => r.action === 'codec.decode')?.detail).toMatchObject({ namespace: 'default' });
      } finally {
        await context.close();
      }
    }, 120_000);

    it('when the browser has not signed in then the Web UI gets 401 from the codec server and shows no plain text', async () => {
      const { order, workflowId } = await stack.start();
      await stack.waitFor(workflowId, (s) => s.phase === 'published');
      const context = await browser.newContext();
      try {
        await context.addInitScript(codecSettings(codecUrl));
        const page = await context.newPage();
        const refused = page.waitForResponse(
          (res) => res.url().startsWith(`${codecUrl}/decode`) && res.request().method() === 'POST',
        );
        await page.goto(`${uiOrigin}/namespaces/default/workflows/${workflowId}`);
        expect((await refused).status()).toBe(401);
        await page.getByText(workflowId).first().waitFor({ state: 'visible', timeout: 30_000 });
        expect(await page.content()).not.toContain(order.recipient.name);
      } finally {
        await context.close();
      }
    }, 120_000);
  },
);
