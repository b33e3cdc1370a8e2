import { createLogger } from '../../src/platform/logger.js';
import { startErpSandbox } from './server.js';

/**
 * Runs the ERP sandbox on its own: `tsx src/sandbox/erp/main.ts [port]`. Environment: ERP_SANDBOX_PORT
 * (default 4001), ERP_SANDBOX_HOST, ERP_SANDBOX_SEED, ERP_SANDBOX_DB (SQLite file), ERP_SANDBOX_SEED_COUNT
 * (deliveries to create at start), ERP_RELEASE_PUSH_URL and SHIPSYNC_ERP_WEBHOOK_TOKEN (release push).
 */
async function main() {
  const logger = createLogger({ name: 'erp-sandbox' });
  const env = process.env;
  const port = Number(process.argv[2] ?? env.ERP_SANDBOX_PORT ?? 4001);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid port "${process.argv[2] ?? env.ERP_SANDBOX_PORT}"`);
  const sandbox = await startErpSandbox({
    port,
    host: env.ERP_SANDBOX_HOST ?? '127.0.0.1',
    seed: env.ERP_SANDBOX_SEED ? Number(env.ERP_SANDBOX_SEED) : 1,
    dbFile: env.ERP_SANDBOX_DB || undefined,
    releasePushUrl: env.ERP_RELEASE_PUSH_URL || undefined,
    releasePushToken: env.SHIPSYNC_ERP_WEBHOOK_TOKEN ?? 'sandbox-erp-push-token',
  });
  const initial = Number(env.ERP_SANDBOX_SEED_COUNT ?? 0);
  if (initial > 0) sandbox.seed(initial);
  logger.info({ url: sandbox.url, seeded: initial }, 'ERP sandbox (SAP OData V2) listening');
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
  console.error(`erp sandbox: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
