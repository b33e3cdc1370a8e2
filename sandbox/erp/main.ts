import { numberIn, runMain } from '../../src/platform/command.js';
import { loadConfig, useSandboxProfile } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { sandboxCommand, serveUntilSignal } from '../common/serve.js';
import { sandboxCredentialsFromConfig } from '../common/credentials.js';
import { startErpSandbox } from './server.js';

/**
 * `npm run sandbox:erp -- [options]`: the SAP OData V2 ERP sandbox on its own, listening where
 * SHIPSYNC_ERP_URL points (default http://127.0.0.1:4001); the release push carries
 * SHIPSYNC_ERP_WEBHOOK_TOKEN.
 */
function command() {
  useSandboxProfile('sandbox-erp');
  const config = loadConfig();
  return sandboxCommand(
    'sandbox-erp',
    'SAP S/4HANA OData V2 ERP sandbox for shipsync',
    'SHIPSYNC_ERP_URL',
    config.SHIPSYNC_ERP_URL,
  )
    .option('--db <file>', 'keep the sandbox state in this SQLite file (default: in memory)')
    .option(
      '--deliveries <n>',
      'released deliveries to create at start',
      numberIn('--deliveries', 0, 20_000, true),
      0,
    )
    .option(
      '--release-push-url <url>',
      'push each release to this URL (e.g. the gateway /webhooks/erp/releases)',
    )
    .allowExcessArguments(false)
    .action(
      async (o: {
        port: number;
        host: string;
        seed: number;
        db?: string;
        deliveries: number;
        releasePushUrl?: string;
      }) => {
        const logger = createLogger({ level: config.SHIPSYNC_LOG_LEVEL, name: 'erp-sandbox' });
        const auth = sandboxCredentialsFromConfig(config).erp;
        const sandbox = await startErpSandbox({
          port: o.port,
          host: o.host,
          seed: o.seed,
          dbFile: o.db,
          releasePushUrl: o.releasePushUrl,
          releasePushToken: config.SHIPSYNC_ERP_WEBHOOK_TOKEN,
          ...(auth ? { auth } : {}),
        });
        if (o.deliveries > 0) sandbox.seed(o.deliveries);
        logger.info({ url: sandbox.url, seeded: o.deliveries }, 'ERP sandbox (SAP OData V2) listening');
        await serveUntilSignal(() => sandbox.close());
      },
    );
}

await runMain(command);
