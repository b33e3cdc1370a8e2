import { Client, Connection } from '@temporalio/client';
import { dataConverterFromConfig, type PayloadKeyKeys } from './codec.js';
import type { Config } from './config.js';

/**
 * A Temporal client for the configured address and namespace (encrypting payloads when a key is
 * configured), and how to close its connection.
 */
export async function connectTemporal(
  config: Pick<Config, 'SHIPSYNC_TEMPORAL_ADDRESS' | 'SHIPSYNC_TEMPORAL_NAMESPACE'> &
    Partial<Pick<Config, PayloadKeyKeys>>,
) {
  const connection = await Connection.connect({
    address: config.SHIPSYNC_TEMPORAL_ADDRESS,
    connectTimeout: '5s',
  });
  const dataConverter = dataConverterFromConfig(config);
  const client = new Client({ connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE, dataConverter });
  return { client, close: () => connection.close() };
}
