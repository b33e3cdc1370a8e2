import { Option } from 'commander';
import { numberIn, runMain } from '../../src/platform/command.js';
import { clientToken, loadConfig, useSandboxProfile } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { sandboxCommand, serveUntilSignal } from '../common/serve.js';
import { sandboxCredentialsFromConfig } from '../common/credentials.js';
import { startCrmSandbox } from './server.js';

/**
 * `npm run sandbox:crm -- [options]`: the Zendesk-dialect CRM sandbox on its own, listening where
 * SHIPSYNC_CRM_URL points (default http://127.0.0.1:4003). Simulated customers ask the gateway at
 * SHIPSYNC_GATEWAY_PORT for another slot with SHIPSYNC_API_TOKEN (an agent's; in the sandbox profile
 * by default the development agent token). Runs in the sandbox profile only.
 */
function command() {
  useSandboxProfile('sandbox-crm');
  const config = loadConfig();
  return sandboxCommand(
    'sandbox-crm',
    'Zendesk-dialect CRM sandbox for shipsync',
    'SHIPSYNC_CRM_URL',
    config.SHIPSYNC_CRM_URL,
  )
    .option(
      '--rate-limit <n>',
      'API requests per minute before 429',
      numberIn('--rate-limit', 1, 1_000_000, true),
      700,
    )
    .option('--webhook-url <url>', 'where signed Zendesk-style webhooks go')
    .option(
      '--reschedule-rate <p>',
      'share of ETA notices after which the customer asks for another slot',
      numberIn('--reschedule-rate', 0, 1),
      0,
    )
    .addOption(
      new Option(
        '--reschedule-mode <mode>',
        'how a customer asks: call the reschedule API, or send a webhook',
      )
        .choices(['api', 'webhook'])
        .default('api'),
    )
    .option(
      '--reschedule-api-url <url>',
      'base URL of shipsync’s reschedule API',
      `http://127.0.0.1:${config.SHIPSYNC_GATEWAY_PORT}`,
    )
    .option(
      '--api-token <token>',
      'bearer token for the reschedule API (default: SHIPSYNC_API_TOKEN, else the development agent token)',
    )
    .allowExcessArguments(false)
    .action(
      async (o: {
        port: number;
        host: string;
        seed: number;
        rateLimit: number;
        webhookUrl?: string;
        rescheduleRate: number;
        rescheduleMode: 'api' | 'webhook';
        rescheduleApiUrl: string;
        apiToken?: string;
      }) => {
        const logger = createLogger({ level: config.SHIPSYNC_LOG_LEVEL, name: 'crm-sandbox' });
        const credentials = sandboxCredentialsFromConfig(config).crm;
        const sandbox = await startCrmSandbox({
          port: o.port,
          host: o.host,
          seed: o.seed,
          rateLimitPerMinute: o.rateLimit,
          webhookUrl: o.webhookUrl,
          webhookSecret: config.SHIPSYNC_CRM_WEBHOOK_SECRET,
          ...(credentials ? { credentials } : {}),
          customers:
            o.rescheduleRate > 0
              ? {
                  rescheduleRate: o.rescheduleRate,
                  mode: o.rescheduleMode,
                  rescheduleApiUrl: o.rescheduleApiUrl,
                  apiToken: o.apiToken ?? clientToken(config, 'agent'),
                }
              : undefined,
          logger,
        });
        logger.info({ url: sandbox.url }, 'CRM sandbox (Zendesk dialect) listening');
        await serveUntilSignal(() => sandbox.close());
      },
    );
}

await runMain(command);
