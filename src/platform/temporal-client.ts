import { readFileSync } from 'node:fs';
import {
  Client,
  Connection,
  ServiceError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcServiceError,
} from '@temporalio/client';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { TLSConfig } from '@temporalio/client';
import { dataConverterFromConfig, type PayloadKeyKeys } from './codec.js';
import type { Config } from './config.js';

/** The configuration keys that decide how a process reaches Temporal. */
export type TemporalConnectionConfig = Pick<Config, 'SHIPSYNC_TEMPORAL_ADDRESS'> &
  Partial<
    Pick<
      Config,
      | 'SHIPSYNC_TEMPORAL_TLS'
      | 'SHIPSYNC_TEMPORAL_TLS_CA'
      | 'SHIPSYNC_TEMPORAL_TLS_CERT'
      | 'SHIPSYNC_TEMPORAL_TLS_KEY'
      | 'SHIPSYNC_TEMPORAL_TLS_SERVER_NAME'
      | 'SHIPSYNC_TEMPORAL_API_KEY'
    >
  >;

/**
 * How to reach the Temporal frontend, for the client (`Connection`) and the worker (`NativeConnection`)
 * alike: the address, TLS (server CA, client certificate for mTLS, server name) and a Temporal Cloud API key.
 * TLS is on when SHIPSYNC_TEMPORAL_TLS=true, when any TLS file or the server name is set, or with an API key
 * (which is never sent in the clear); SHIPSYNC_TEMPORAL_TLS=false with any of those is refused. Files are
 * read here, once per connection.
 */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

/** The connection options of a configuration (see TemporalConnectionOptions). */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const ca = config.SHIPSYNC_TEMPORAL_TLS_CA;
  const cert = config.SHIPSYNC_TEMPORAL_TLS_CERT;
  const key = config.SHIPSYNC_TEMPORAL_TLS_KEY;
  const serverName = config.SHIPSYNC_TEMPORAL_TLS_SERVER_NAME;
  const apiKey = config.SHIPSYNC_TEMPORAL_API_KEY;
  const implied = [ca, cert, key, serverName, apiKey].some((v) => v !== undefined);
  if (config.SHIPSYNC_TEMPORAL_TLS === false && implied)
    throw new Error(
      'SHIPSYNC_TEMPORAL_TLS=false contradicts the SHIPSYNC_TEMPORAL_TLS_* / SHIPSYNC_TEMPORAL_API_KEY keys that are set',
    );
  if ((cert === undefined) !== (key === undefined))
    throw new Error('SHIPSYNC_TEMPORAL_TLS_CERT and SHIPSYNC_TEMPORAL_TLS_KEY go together');
  const useTls = config.SHIPSYNC_TEMPORAL_TLS === true || implied;
  if (!useTls) return { address: config.SHIPSYNC_TEMPORAL_ADDRESS };
  const tls: TLSConfig = {
    ...(serverName ? { serverNameOverride: serverName } : {}),
    ...(ca ? { serverRootCACertificate: readFileSync(ca) } : {}),
    ...(cert && key ? { clientCertPair: { crt: readFileSync(cert), key: readFileSync(key) } } : {}),
  };
  return { address: config.SHIPSYNC_TEMPORAL_ADDRESS, tls, ...(apiKey ? { apiKey } : {}) };
}

/** Whether and how a connection is secured, for a start-up log line (never the key itself). */
export function describeTemporalConnection(o: TemporalConnectionOptions): string {
  if (!o.tls) return 'plain gRPC (no TLS)';
  const parts = ['TLS'];
  parts.push(o.tls.serverRootCACertificate ? 'configured CA' : 'system CAs');
  if (o.tls.clientCertPair) parts.push('client certificate (mTLS)');
  if (o.tls.serverNameOverride) parts.push(`server name ${o.tls.serverNameOverride}`);
  if (o.apiKey) parts.push('API key');
  return parts.join(', ');
}

/**
 * The one-line error of a failed connection to Temporal: where, how (plain, TLS, mTLS, API key) and the
 * transport's reason, with a hint when TLS went without a client certificate (a frontend that requires
 * one closes the handshake).
 */
export function temporalConnectError(target: TemporalConnectionOptions, err: unknown): Error {
  const reason = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 500);
  const hint =
    target.tls && !target.tls.clientCertPair
      ? '; a frontend that requires client certificates refuses this: set SHIPSYNC_TEMPORAL_TLS_CERT and SHIPSYNC_TEMPORAL_TLS_KEY'
      : '';
  return new Error(
    `cannot connect to Temporal at ${target.address} (${describeTemporalConnection(target)}): ${reason}${hint}`,
    { cause: err },
  );
}

/**
 * A Temporal client for the configured address and namespace (encrypting payloads when a key is
 * configured), and how to close its connection.
 */
export async function connectTemporal(
  config: TemporalConnectionConfig &
    Pick<Config, 'SHIPSYNC_TEMPORAL_NAMESPACE'> &
    Partial<Pick<Config, PayloadKeyKeys>>,
) {
  const connection = await Connection.connect({
    ...temporalConnectionOptions(config),
    connectTimeout: '5s',
  });
  const dataConverter = dataConverterFromConfig(config);
  const client = new Client({ connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE, dataConverter });
  return { client, close: () => connection.close() };
}

/** The gRPC status code behind a Temporal client error, if there is one. */
export function grpcCodeOf(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (err instanceof ServiceError && isGrpcServiceError(err.cause)) return err.cause.code;
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return grpcStatus.DEADLINE_EXCEEDED;
  return undefined;
}
