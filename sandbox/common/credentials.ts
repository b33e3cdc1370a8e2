import type { Config } from '../../src/platform/config.js';
import type { ErpSandboxAuth } from '../erp/auth.js';

/**
 * The vendor credentials the sandboxes check, from the same keys the worker sends them with: the SAP
 * communication user (SHIPSYNC_ERP_USERNAME/PASSWORD) and OAuth client (SHIPSYNC_ERP_OAUTH_CLIENT_ID/SECRET),
 * and the Zendesk agent email and API token (SHIPSYNC_CRM_EMAIL/API_TOKEN). Unset keys: the sandbox accepts
 * any credential there, as before. (The dispatch sandbox always checks SHIPSYNC_DISPATCH_API_KEY.)
 */
export function sandboxCredentialsFromConfig(config: Config): {
  erp?: ErpSandboxAuth;
  crm?: { email: string; token: string };
} {
  const c = config;
  const erp: ErpSandboxAuth = {
    ...(c.SHIPSYNC_ERP_USERNAME && c.SHIPSYNC_ERP_PASSWORD !== undefined
      ? { basic: { username: c.SHIPSYNC_ERP_USERNAME, password: c.SHIPSYNC_ERP_PASSWORD } }
      : {}),
    ...(c.SHIPSYNC_ERP_OAUTH_CLIENT_ID && c.SHIPSYNC_ERP_OAUTH_CLIENT_SECRET
      ? {
          oauth: {
            clientId: c.SHIPSYNC_ERP_OAUTH_CLIENT_ID,
            clientSecret: c.SHIPSYNC_ERP_OAUTH_CLIENT_SECRET,
          },
        }
      : {}),
  };
  return {
    ...(erp.basic || erp.oauth ? { erp } : {}),
    ...(c.SHIPSYNC_CRM_EMAIL && c.SHIPSYNC_CRM_API_TOKEN
      ? { crm: { email: c.SHIPSYNC_CRM_EMAIL, token: c.SHIPSYNC_CRM_API_TOKEN } }
      : {}),
  };
}
