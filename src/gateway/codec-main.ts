import { keyringFromConfig } from '../platform/codec.js';
import { exitOnSignals, loadConfigOrExit } from '../platform/entry.js';
import { createLogger } from '../platform/logger.js';
import { openStore, storeTargetFromConfig } from '../storage/store.js';
import { createCodecServer } from './codec-server.js';

/**
 * `npm run codec-server`: the remote codec of the Temporal Web UI and CLI, a process of its own beside the
 * gateway (same principals, same store for the audit trail, same payload keyring).
 */
async function main() {
  const config = loadConfigOrExit('codec-server');
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

  exitOnSignals(logger, 'codec server shutting down', async () => {
    await app.close();
    await store.close();
  });
}

await main();
