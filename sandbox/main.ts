import { newCommand, numberIn, runMain } from '../src/platform/command.js';
import { clockFromConfig } from '../src/platform/clock.js';
import { clientToken, loadConfig, secret, useSandboxProfile } from '../src/platform/config.js';
import { listenAddress, serveUntilSignal } from './common/serve.js';
import { startCrmSandbox } from './crm/index.js';
import { SHIPMENT_WEBHOOK_TRIGGERS, startDispatchSandbox } from './dispatch/index.js';
import { startErpSandbox } from './erp/index.js';
import { sandboxCredentialsFromConfig } from './common/credentials.js';

/**
 * `npm run sandbox`: the ERP, dispatch and CRM sandboxes where SHIPSYNC_ERP_URL, SHIPSYNC_DISPATCH_URL and
 * SHIPSYNC_CRM_URL point, wired to the gateway at SHIPSYNC_GATEWAY_PORT (dispatch webhooks, ERP release
 * push, simulated customers' reschedule requests with SHIPSYNC_API_TOKEN or the development agent token).
 * Runs in the sandbox profile only.
 */
const program = newCommand('sandbox')
  .description('the three vendor sandboxes, wired to the gateway')
  .option('--seed <n>', 'seed of every random choice', numberIn('--seed', 0, 2 ** 31, true), 1)
  .option(
    '--deliveries <n>',
    'released ERP deliveries to create at start',
    numberIn('--deliveries', 0, 20_000, true),
    0,
  )
  .option('--simulator', 'play planned routes with the driver simulator')
  .option(
    '--reschedule-rate <p>',
    'share of customers who ask for another slot',
    numberIn('--reschedule-rate', 0, 1),
    0,
  )
  .option('--no-webhooks', 'do not send webhooks to the gateway')
  .allowExcessArguments(false)
  .action(
    async (opts: {
      seed: number;
      deliveries: number;
      simulator?: boolean;
      rescheduleRate: number;
      webhooks: boolean;
    }) => {
      useSandboxProfile('sandbox');
      const config = loadConfig();
      const vendorAuth = sandboxCredentialsFromConfig(config);
      const gateway = `http://127.0.0.1:${config.SHIPSYNC_GATEWAY_PORT}`;
      const [erp, dispatch, crm] = await Promise.all([
        startErpSandbox({
          ...listenAddress(config.SHIPSYNC_ERP_URL),
          seed: opts.seed,
          releasePushUrl: opts.webhooks ? `${gateway}/webhooks/erp/releases` : undefined,
          releasePushToken: secret(config, 'SHIPSYNC_ERP_WEBHOOK_TOKEN'),
          ...(vendorAuth.erp ? { auth: vendorAuth.erp } : {}),
        }),
        startDispatchSandbox({
          ...listenAddress(config.SHIPSYNC_DISPATCH_URL),
          seed: opts.seed,
          clock: clockFromConfig(config),
          apiKey: secret(config, 'SHIPSYNC_DISPATCH_API_KEY'),
          webhookSecret: secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'),
          simulator: { enabled: !!opts.simulator },
          webhooks: opts.webhooks
            ? SHIPMENT_WEBHOOK_TRIGGERS.map((trigger) => ({ url: `${gateway}/webhooks/dispatch`, trigger }))
            : [],
        }),
        startCrmSandbox({
          ...listenAddress(config.SHIPSYNC_CRM_URL),
          seed: opts.seed,
          webhookUrl: opts.webhooks ? `${gateway}/webhooks/crm` : undefined,
          webhookSecret: secret(config, 'SHIPSYNC_CRM_WEBHOOK_SECRET'),
          ...(vendorAuth.crm ? { credentials: vendorAuth.crm } : {}),
          customers: {
            rescheduleRate: opts.rescheduleRate,
            mode: 'api',
            rescheduleApiUrl: gateway,
            apiToken: clientToken(config, 'agent'),
          },
        }),
      ]);
      if (opts.deliveries > 0) erp.seed(opts.deliveries);
      console.log(`ERP (SAP OData V2):      ${erp.url}`);
      console.log(`dispatch (Onfleet v2):   ${dispatch.url}`);
      console.log(`CRM (Zendesk):           ${crm.url}`);
      console.log(opts.webhooks ? `webhooks go to the gateway at ${gateway}` : 'webhooks off');
      console.log('press Ctrl-C to stop');
      await serveUntilSignal(() => Promise.all([erp.close(), dispatch.close(), crm.close()]));
    },
  );
await runMain(program);
