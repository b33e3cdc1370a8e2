import { Client, Connection } from '@temporalio/client';
import { exitOnSignals, loadConfigOrExit } from '../platform/entry.js';
import { dataConverterFromConfig, keyringFromConfig } from '../platform/codec.js';
import { createLogger } from '../platform/logger.js';
import { describeTemporalConnection, temporalConnectionOptions } from '../platform/temporal-client.js';
import { openStore, storeTargetFromConfig } from '../storage/store.js';
import { createGateway, gatewayTls } from './app.js';
import { errorText } from './forwarder.js';
import { TEMPORAL_CHANNEL_ARGS } from './temporal.js';

/** Idempotency keys are kept a day, as the Idempotency-Key draft suggests for retry windows. */
const IDEMPOTENCY_TTL_MS = 24 * 3600_000;
/** Delivered inbox rows are kept a week, so a vendor's late redelivery is still recognised as a duplicate. */
const DELIVERED_TTL_MS = 7 * 24 * 3600_000;

async function main() {
  const config = loadConfigOrExit('gateway');
  const logger = createLogger({ level: config.SHIPSYNC_LOG_LEVEL, name: 'gateway' });
  process.on('unhandledRejection', (err) => logger.error({ err: errorText(err) }, 'unhandled rejection'));

  const target = storeTargetFromConfig(config);
  // Personal data in the inbox, dead letters and telemetry is sealed at rest with the payload keyring.
  const store = await openStore(target, { keyring: keyringFromConfig(config) });
  // Lazy: the gateway starts and accepts webhooks into the inbox while Temporal is still down.
  const temporal = temporalConnectionOptions(config);
  const connection = Connection.lazy({ ...temporal, channelArgs: TEMPORAL_CHANNEL_ARGS });
  const client = new Client({
    connection,
    namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE,
    dataConverter: dataConverterFromConfig(config),
  });
  const gateway = await createGateway({ config, client, store, logger });

  await gateway.listen({ host: config.SHIPSYNC_GATEWAY_HOST, port: config.SHIPSYNC_GATEWAY_PORT });
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(config.SHIPSYNC_GATEWAY_HOST);
  if (config.SHIPSYNC_ENV === 'sandbox' && !loopback) {
    logger.warn(
      { host: config.SHIPSYNC_GATEWAY_HOST },
      'sandbox profile on a non-loopback address: the published sandbox secrets and development tokens are accepted from the network',
    );
  }
  await gateway.forwarder.refreshBacklog();
  gateway.forwarder.start();
  gateway.ods.start();
  logger.info(
    {
      host: config.SHIPSYNC_GATEWAY_HOST,
      port: config.SHIPSYNC_GATEWAY_PORT,
      scheme: gatewayTls(config) ? 'https' : 'http',
      ...(config.SHIPSYNC_GATEWAY_BEHIND_PROXY ? { behindProxy: true } : {}),
      store: target.backend,
      temporal: config.SHIPSYNC_TEMPORAL_ADDRESS,
      temporalTransport: describeTemporalConnection(temporal),
      backlog: gateway.forwarder.backlog,
      profile: config.SHIPSYNC_ENV,
      principals: config.SHIPSYNC_PRINCIPALS?.length ?? 0,
    },
    'gateway listening',
  );

  const auditRetentionDays = config.SHIPSYNC_AUDIT_RETENTION_DAYS;
  const daysAgo = (days: number) => new Date(Date.now() - days * 24 * 3600_000);
  const housekeeping = setInterval(() => {
    const now = Date.now();
    void Promise.all([
      store.idempotency.purgeBefore(new Date(now - IDEMPOTENCY_TTL_MS)),
      // The inbox purge deletes delivered inbox rows only; audit rows follow their own retention.
      store.inbox.purgeDelivered(new Date(now - DELIVERED_TTL_MS)),
      auditRetentionDays > 0
        ? store.audit.purgeBefore(new Date(now - auditRetentionDays * 24 * 3600_000))
        : Promise.resolve(0),
      config.SHIPSYNC_TELEMETRY_RETENTION_DAYS > 0
        ? store.telemetry.purgeBefore(daysAgo(config.SHIPSYNC_TELEMETRY_RETENTION_DAYS))
        : Promise.resolve(0),
      config.SHIPSYNC_DEAD_LETTER_RETENTION_DAYS > 0
        ? store.deadLetters.purgeSettledBefore(daysAgo(config.SHIPSYNC_DEAD_LETTER_RETENTION_DAYS))
        : Promise.resolve(0),
    ]).catch((err) => logger.warn({ err: errorText(err) }, 'housekeeping failed'));
  }, 3600_000);
  housekeeping.unref();

  exitOnSignals(logger, 'shutting down: finishing requests in flight and the forwarder pass', async () => {
    clearInterval(housekeeping);
    await gateway.close();
    await store.close();
    await connection.close();
  });
}

await main();
