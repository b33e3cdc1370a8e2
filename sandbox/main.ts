import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../src/platform/config.js';
import { clockFromConfig } from '../src/platform/clock.js';
import { startCrmSandbox } from './crm/index.js';
import { SHIPMENT_WEBHOOK_TRIGGERS, startDispatchSandbox } from './dispatch/index.js';
import { startErpSandbox } from './erp/index.js';

const number = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
  return n;
};

/**
 * `npm run sandbox`: the ERP, dispatch and CRM sandboxes on the ports of SHIPSYNC_ERP_URL,
 * SHIPSYNC_DISPATCH_URL and SHIPSYNC_CRM_URL, wired to the gateway at SHIPSYNC_GATEWAY_PORT
 * (dispatch webhooks, ERP release push, simulated customers' reschedule requests).
 */
async function main() {
  const program = new Command('sandbox')
    .option('--seed <n>', 'seed of every random choice', number('--seed', 0, 2 ** 31), 1)
    .option(
      '--deliveries <n>',
      'released ERP deliveries to create at start',
      number('--deliveries', 0, 20_000),
      0,
    )
    .option('--simulator', 'play planned routes with the driver simulator')
    .option(
      '--reschedule-rate <p>',
      'share of customers who ask for another slot',
      number('--reschedule-rate', 0, 1),
      0,
    )
    .option('--no-webhooks', 'do not send webhooks to the gateway')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`${text.trim().split('\n')[0]}\n`) });
  try {
    program.parse(process.argv);
  } catch {
    process.exit(2);
  }
  const opts = program.opts<{
    seed: number;
    deliveries: number;
    simulator?: boolean;
    rescheduleRate: number;
    webhooks: boolean;
  }>();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : String(err));
    process.exit(2);
  }
  const gateway = `http://127.0.0.1:${config.SHIPSYNC_GATEWAY_PORT}`;
  const portOf = (url: string) => Number(new URL(url).port || 80);
  const [erp, dispatch, crm] = await Promise.all([
    startErpSandbox({
      port: portOf(config.SHIPSYNC_ERP_URL),
      seed: opts.seed,
      releasePushUrl: opts.webhooks ? `${gateway}/webhooks/erp/releases` : undefined,
      releasePushToken: config.SHIPSYNC_ERP_WEBHOOK_TOKEN,
    }),
    startDispatchSandbox({
      port: portOf(config.SHIPSYNC_DISPATCH_URL),
      seed: opts.seed,
      clock: clockFromConfig(config),
      apiKey: config.SHIPSYNC_DISPATCH_API_KEY,
      webhookSecret: config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
      simulator: { enabled: !!opts.simulator },
      webhooks: opts.webhooks
        ? SHIPMENT_WEBHOOK_TRIGGERS.map((trigger) => ({ url: `${gateway}/webhooks/dispatch`, trigger }))
        : [],
    }),
    startCrmSandbox({
      port: portOf(config.SHIPSYNC_CRM_URL),
      seed: opts.seed,
      webhookUrl: opts.webhooks ? `${gateway}/webhooks/crm` : undefined,
      webhookSecret: config.SHIPSYNC_CRM_WEBHOOK_SECRET,
      customers: {
        rescheduleRate: opts.rescheduleRate,
        mode: 'api',
        rescheduleApiUrl: gateway,
        apiToken: 'dev-agent',
      },
    }),
  ]);
  if (opts.deliveries > 0) erp.seed(opts.deliveries);
  console.log(`ERP (SAP OData V2):      ${erp.url}`);
  console.log(`dispatch (Onfleet v2):   ${dispatch.url}`);
  console.log(`CRM (Zendesk):           ${crm.url}`);
  console.log(opts.webhooks ? `webhooks go to the gateway at ${gateway}` : 'webhooks off');
  console.log('press Ctrl-C to stop');
  const stop = () => {
    void Promise.all([erp.close(), dispatch.close(), crm.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main();
