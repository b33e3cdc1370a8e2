import { keyringFromConfig } from '../platform/codec.js';
import { ConfigError, loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { openStore, storeTargetFromConfig } from '../storage/store.js';
import { createCodecServer } from './codec-server.js';
import { errorText } from './forwarder.js';

/**
 * `npm run codec-server`: the remote codec of the Temporal Web UI and CLI, a process of its own beside the
 * gateway (same principals, same store for the audit trail, same payload keyring).
 */
async function main() {
  let config;
  try {
    config = loadConfig(process.env, { process: 'codec-server' });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines()) console.error(`codec-server: ${line}`);
      console.error(
        `codec-server: refusing to start (${err.issues.length} configuration problem(s); see .env.example)`,
      );
    } else console.error(`codec-server: ${errorText(err)}`);
    process.exit(2);
  }
  const keyring = keyringFromConfig(config);
  if (!keyring) {
    console.error(
      'codec-server: SHIPSYNC_PAYLOAD_KEY or SHIPSYNC_PAYLOAD_KEYS: missing: without a key there is nothing to decode',
    );
    process.exit(2);
  }
  const logger = createLogger({ level: config.SHIPSYNC_LOG_LEVEL, name: 'codec-server' });
  const target = storeTargetFromConfig(config);
  const store = await openStore(target);
  const app = await createCodecServer({ config, keyring, store, logger });
  await app.listen({ host: config.SHIPSYNC_CODEC_HOST, port: config.SHIPSYNC_CODEC_PORT });
  logger.info(
    {
      host: config.SHIPSYNC_CODEC_HOST,
      port: config.SHIPSYNC_CODEC_PORT,
      namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE,
      currentKeyId: keyring.currentId,
      keyIds: keyring.ids,
      corsOrigins: config.SHIPSYNC_CODEC_CORS_ORIGINS,
      store: target.backend,
    },
    'codec server listening',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'codec server shutting down');
    try {
      await app.close();
      await store.close();
    } catch (err) {
      logger.error({ err: errorText(err) }, 'error during shutdown');
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

await main();
