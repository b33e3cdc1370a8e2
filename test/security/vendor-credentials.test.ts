import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmAdapter } from '../../src/integrations/crm/adapter.js';
import { checkVendorAuth, type VendorCredentials } from '../../src/integrations/auth-check.js';
import { createErpAdapter } from '../../src/integrations/erp/adapter.js';
import { OAuthTokenSource } from '../../src/integrations/erp/oauth.js';
import { startCrmSandbox, type CrmSandbox } from '../../sandbox/crm/server.js';
import { startDispatchSandbox, type DispatchSandbox } from '../../sandbox/dispatch/server.js';
import { OAUTH_TOKEN_PATH } from '../../sandbox/erp/auth.js';
import { startErpSandbox, type ErpSandbox } from '../../sandbox/erp/server.js';
import { temporalAddress } from '../support/temporal.js';
import { startEntryPoint, startSecureGateway } from './support.js';

const secret = () => randomBytes(24).toString('base64url');
const SAP_USER = { username: 'SHIPSYNC_COMM', password: secret() };
const SAP_CLIENT = { clientId: 'SHIPSYNC_CLIENT', clientSecret: secret() };
const ZENDESK = { email: 'integration@shipsync.test', token: secret() };
const ONFLEET_KEY = secret();

let erpBasic: ErpSandbox;
let erpOAuth: ErpSandbox;
let crm: CrmSandbox;
let dispatch: DispatchSandbox;
let deliveryId: string;

beforeAll(async () => {
  [erpBasic, erpOAuth, crm, dispatch] = await Promise.all([
    startErpSandbox({ port: 0, auth: { basic: SAP_USER } }),
    startErpSandbox({ port: 0, auth: { oauth: { ...SAP_CLIENT, tokenLifetimeSeconds: 3600 } } }),
    startCrmSandbox({ port: 0, credentials: ZENDESK }),
    startDispatchSandbox({ port: 0, apiKey: ONFLEET_KEY }),
  ]);
  deliveryId = erpBasic.seed(1)[0]!.deliveryId;
  erpOAuth.seed(1);
});
afterAll(async () => {
  await Promise.all([erpBasic?.close(), erpOAuth?.close(), crm?.close(), dispatch?.close()]);
});

/** Every credential right; override one to make it wrong. */
function credentials(over: Partial<VendorCredentials> = {}): VendorCredentials {
  return {
    erp: { baseUrl: erpBasic.url, basic: SAP_USER },
    dispatch: { baseUrl: dispatch.url, apiKey: ONFLEET_KEY },
    crm: { baseUrl: crm.url, ...ZENDESK },
    ...over,
  };
}

describe('SAP credentials', () => {
  it('when the communication user and password are right then the ERP adapter reads a delivery', async () => {
    const erp = createErpAdapter({ baseUrl: erpBasic.url, ...SAP_USER });
    await expect(erp.getDelivery(deliveryId)).resolves.toMatchObject({ deliveryId });
  });

  it("when the password is wrong then the sandbox answers SAP's own 401 logon error and the adapter fails without retrying", async () => {
    const res = await fetch(`${erpBasic.url}/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/`, {
      headers: { authorization: `Basic ${Buffer.from('SHIPSYNC_COMM:wrong').toString('base64')}` },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Basic realm="SAP NetWeaver Application Server [S4H/100]"',
    );
    expect(await res.text()).toContain('<title>Logon Error Message</title>');
    const erp = createErpAdapter({ baseUrl: erpBasic.url, username: SAP_USER.username, password: 'wrong' });
    await expect(erp.getDelivery(deliveryId)).rejects.toMatchObject({
      code: 'ERP_BUSINESS_REJECTED',
      retryable: false,
      message: expect.stringContaining('ERP answered 401'),
    });
  });

  it('when the adapter uses OAuth client credentials then one token serves many calls until it expires', async () => {
    const before = erpOAuth.logon.tokensIssued;
    const erp = createErpAdapter({
      baseUrl: erpOAuth.url,
      oauth: { tokenUrl: `${erpOAuth.url}${OAUTH_TOKEN_PATH}`, ...SAP_CLIENT },
    });
    const page = await erp.listReleasedDeliveries({ pageSize: 5 });
    for (const o of page.orders) await erp.getDelivery(o.deliveryId);
    await erp.listReleasedDeliveries({ pageSize: 5 });
    expect(erpOAuth.logon.tokensIssued - before).toBe(1);
    expect(erp.oauth?.fetches).toBe(1);
  });

  it('when the server no longer honours the cached token then the adapter fetches a new one once and goes on', async () => {
    const erp = createErpAdapter({
      baseUrl: erpOAuth.url,
      oauth: { tokenUrl: `${erpOAuth.url}${OAUTH_TOKEN_PATH}`, ...SAP_CLIENT },
    });
    await erp.listReleasedDeliveries({ pageSize: 1 });
    erpOAuth.logon.revokeTokens();
    await expect(erp.listReleasedDeliveries({ pageSize: 1 })).resolves.toBeDefined();
    expect(erp.oauth?.fetches).toBe(2);
  });

  it('when a cached token nears its expiry then the token source fetches a new one, and not before', async () => {
    const short = await startErpSandbox({
      port: 0,
      auth: { oauth: { ...SAP_CLIENT, tokenLifetimeSeconds: 120 } },
    });
    try {
      let now = Date.now();
      const tokens = new OAuthTokenSource(
        { tokenUrl: `${short.url}${OAUTH_TOKEN_PATH}`, ...SAP_CLIENT },
        () => now,
      );
      const first = await tokens.token();
      now += 80_000;
      expect(await tokens.token()).toBe(first);
      now += 15_000; // 95 s of 120: inside the 30 s renewal margin
      expect(await tokens.token()).not.toBe(first);
      expect(tokens.fetches).toBe(2);
    } finally {
      await short.close();
    }
  });

  it("when the client secret is wrong then the token endpoint answers OAuth's invalid_client and the adapter fails naming it", async () => {
    const erp = createErpAdapter({
      baseUrl: erpOAuth.url,
      oauth: {
        tokenUrl: `${erpOAuth.url}${OAUTH_TOKEN_PATH}`,
        clientId: SAP_CLIENT.clientId,
        clientSecret: 'wrong',
      },
    });
    await expect(erp.listReleasedDeliveries({ pageSize: 1 })).rejects.toMatchObject({
      code: 'ERP_BUSINESS_REJECTED',
      message: expect.stringContaining('refused with 401 (invalid_client)'),
    });
  });
});

describe('Zendesk and Onfleet credentials', () => {
  it("when the Zendesk API token is wrong then the sandbox answers Zendesk's 401 and the right one is accepted", async () => {
    const url = `${crm.url}/api/v2/users/me.json`;
    const auth = (token: string) => ({
      authorization: `Basic ${Buffer.from(`${ZENDESK.email}/token:${token}`).toString('base64')}`,
    });
    const wrong = await fetch(url, { headers: auth('wrong') });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: "Couldn't authenticate you" });
    const right = await fetch(url, { headers: auth(ZENDESK.token) });
    expect(right.status).toBe(200);
    expect(await right.json()).toMatchObject({ user: { email: ZENDESK.email } });
    // The adapter sends the same `{email}/token:{token}` credential.
    const adapter = createCrmAdapter({ baseUrl: crm.url, email: ZENDESK.email, token: 'wrong' });
    await expect(
      adapter.openCase({
        shipmentId: 'shipment-AUTH1',
        deliveryId: 'AUTH1',
        customerId: 'C-1',
        kind: 'failed_attempt',
        subject: 'auth check',
        description: 'auth check',
        priority: 'normal',
        idempotencyKey: `k-${secret()}`,
        firstTry: true,
      }),
    ).rejects.toMatchObject({ retryable: false });
  });

  it('when each vendor is asked with the right credential then every check is ok', async () => {
    const results = await checkVendorAuth(credentials());
    expect(results.map((r) => [r.vendor, r.status])).toEqual([
      ['erp', 'ok'],
      ['dispatch', 'ok'],
      ['crm', 'ok'],
    ]);
  });

  it('when a credential is wrong then its vendor check says failed; with none it says unconfigured', async () => {
    const results = await checkVendorAuth({
      erp: {
        baseUrl: erpOAuth.url,
        oauth: { tokenUrl: `${erpOAuth.url}${OAUTH_TOKEN_PATH}`, ...SAP_CLIENT, clientSecret: 'x' },
      },
      dispatch: { baseUrl: dispatch.url, apiKey: 'not-the-key' },
      crm: { baseUrl: crm.url },
    });
    expect(results.map((r) => [r.vendor, r.status])).toEqual([
      ['erp', 'failed'],
      ['dispatch', 'failed'],
      ['crm', 'unconfigured'],
    ]);
  });
});

describe('reporting', () => {
  it("when the gateway holds the vendor credentials then /readyz reports each vendor's answer", async () => {
    const connection = Connection.lazy({ address: temporalAddress() });
    const gw = await startSecureGateway(new Client({ connection, namespace: 'default' }), {
      SHIPSYNC_ERP_URL: erpBasic.url,
      SHIPSYNC_ERP_USERNAME: SAP_USER.username,
      SHIPSYNC_ERP_PASSWORD: SAP_USER.password,
      SHIPSYNC_DISPATCH_URL: dispatch.url,
      SHIPSYNC_DISPATCH_API_KEY: ONFLEET_KEY,
      SHIPSYNC_CRM_URL: crm.url,
      SHIPSYNC_CRM_EMAIL: ZENDESK.email,
      SHIPSYNC_CRM_API_TOKEN: 'a-wrong-zendesk-token',
    });
    try {
      const vendors = async () =>
        ((await (await fetch(`${gw.url}/readyz`)).json()) as { vendors?: Record<string, string> }).vendors;
      // The first probe starts the check without waiting for it: a readiness probe answers at once.
      expect(await vendors()).toEqual({ erp: 'checking', dispatch: 'checking', crm: 'checking' });
      await expect
        .poll(vendors, { timeout: 10_000, interval: 100 })
        .toEqual({ erp: 'ok', dispatch: 'ok', crm: 'failed' });
    } finally {
      await gw.close();
      await connection.close();
    }
  });

  it('when a vendor refuses its credential at start then the worker logs one clear line naming the vendor', async () => {
    const worker = await startEntryPoint(
      'src/workers/main.ts',
      {
        SHIPSYNC_ENV: 'sandbox',
        SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress(),
        SHIPSYNC_TASK_QUEUE_PREFIX: 'vendor-auth',
        SHIPSYNC_ERP_URL: erpBasic.url,
        SHIPSYNC_ERP_USERNAME: SAP_USER.username,
        SHIPSYNC_ERP_PASSWORD: SAP_USER.password,
        SHIPSYNC_DISPATCH_URL: dispatch.url,
        SHIPSYNC_DISPATCH_API_KEY: 'a-revoked-onfleet-key',
        SHIPSYNC_CRM_URL: crm.url,
        SHIPSYNC_CRM_EMAIL: ZENDESK.email,
        SHIPSYNC_CRM_API_TOKEN: ZENDESK.token,
      },
      /refused shipsync's credential/,
      90_000,
    );
    try {
      const refusals = worker
        .output()
        .split('\n')
        .filter((l) => l.includes("refused shipsync's credential"));
      expect(refusals).toHaveLength(1);
      expect(refusals[0]).toContain('"vendor":"dispatch"');
    } finally {
      await worker.stop();
    }
  }, 120_000);
});
