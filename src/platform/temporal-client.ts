import { Client, Connection } from '@temporalio/client';
import { dataConverterFromConfig } from './codec.js';
import type { Config } from './config.js';

/**
 * A Temporal client for the configured address and namespace (encrypting payloads when a key is
 * configured), and how to close its connection.
 */
export async function connectTemporal(
  config: Pick<Config, 'SHIPSYNC_TEMPORAL_ADDRESS' | 'SHIPSYNC_TEMPORAL_NAMESPACE'> &
    Partial<Pick<Config, 'SHIPSYNC_PAYLOAD_KEY' | 'SHIPSYNC_PAYLOAD_KEY_ID'>>,
) {
  const connection = await Connection.connect({
    address: config.SHIPSYNC_TEMPORAL_ADDRESS,
    connectTimeout: '5s',
  });
  const dataConverter = dataConverterFromConfig({
    SHIPSYNC_PAYLOAD_KEY: config.SHIPSYNC_PAYLOAD_KEY,
    SHIPSYNC_PAYLOAD_KEY_ID: config.SHIPSYNC_PAYLOAD_KEY_ID ?? 'k1',
  });
  const client = new Client({ connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE, dataConverter });
  return { client, close: () => connection.close() };
}
