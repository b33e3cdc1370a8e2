import { Client, Connection } from '@temporalio/client';
import { dataConverterFromConfig } from './codec.js';
import type { Config } from './config.js';

/** A Temporal client for the configured address and namespace, and how to close its connection. */
export async function connectTemporal(
  config: Pick<Config, 'SHIPSYNC_TEMPORAL_ADDRESS' | 'SHIPSYNC_TEMPORAL_NAMESPACE'>,
) {
  const connection = await Connection.connect({
    address: config.SHIPSYNC_TEMPORAL_ADDRESS,
    connectTimeout: '5s',
  });
  const client = new Client({ connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE });
  return { client, close: () => connection.close() };
}
