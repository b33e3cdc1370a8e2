import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../../src/platform/logger.js';
import { loadConfig } from '../../src/platform/config.js';
import { startCrmSandbox } from './server.js';

function number(raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${raw}"`);
  return n;
}

/** Runs the CRM sandbox standalone: `tsx src/sandbox/crm/main.ts [options]`. */
async function main() {
  const config = loadConfig();
  const program = new Command('crm-sandbox')
    .description('Zendesk-dialect CRM sandbox for shipsync')
    .option('--port <n>', 'TCP port', number, Number(new URL(config.SHIPSYNC_CRM_URL).port || 4003))
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--seed <n>', 'seed of every random decision', number, 1)
    .option('--rate-limit <n>', 'API requests per minute before 429', number, 700)
    .option('--webhook-url <url>', 'where signed Zendesk-style webhooks go')
    .option(
      '--reschedule-rate <p>',
      'share of ETA notices after which the customer asks for another slot',
      number,
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
    .option('--api-token <token>', 'bearer token for the reschedule API', 'dev-agent')
    .parse(process.argv);
  const o = program.opts<{
    port: number;
    host: string;
    seed: number;
    rateLimit: number;
    webhookUrl?: string;
    rescheduleRate: number;
    rescheduleMode: 'api' | 'webhook';
    rescheduleApiUrl: string;
    apiToken: string;
  }>();
  const logger = createLogger({ level: config.SHIPSYNC_LOG_LEVEL, name: 'crm-sandbox' });
  const sandbox = await startCrmSandbox({
    port: o.port,
    host: o.host,
    seed: o.seed,
    rateLimitPerMinute: o.rateLimit,
    webhookUrl: o.webhookUrl,
    webhookSecret: config.SHIPSYNC_CRM_WEBHOOK_SECRET,
    customers:
      o.rescheduleRate > 0
        ? {
            rescheduleRate: o.rescheduleRate,
            mode: o.rescheduleMode,
            rescheduleApiUrl: o.rescheduleApiUrl,
            apiToken: o.apiToken,
          }
        : undefined,
    logger,
  });
  logger.info({ url: sandbox.url }, 'CRM sandbox (Zendesk dialect) listening');
  const stop = () => {
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
