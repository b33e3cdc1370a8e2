import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Field paths holding personal data; pino replaces them before a line is written. */
export const REDACTED_PATHS = [
  'phone',
  'email',
  'address',
  'signature',
  '*.name',
  '*.phone',
  '*.email',
  '*.address',
  '*.street',
  '*.signature',
  '*.recipientName',
  '*.contactName',
  '*.contactPhone',
  '*.shipTo.name',
  '*.shipTo.street',
  '*.pod.signatureId',
];

/** Correlation fields every line about a shipment carries. */
export interface Correlation {
  shipmentId?: string;
  workflowId?: string;
  eventId?: string;
  correlationId?: string;
}

/** The project's logger: pino with redaction of personal data. */
export type AppLogger = Logger;

/** Creates the root logger for one process. */
export function createLogger(
  opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
) {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    name: opts.name ?? 'shipsync',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return opts.destination ? pino(options, opts.destination as pino.DestinationStream) : pino(options);
}

/** A child logger that stamps correlation ids on every line. */
export function withCorrelation(logger: AppLogger, c: Correlation): AppLogger {
  return logger.child(Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));
}

const SDK_LEVELS = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/**
 * The Temporal SDK's logger interface over pino: workflow, activity and worker lines get the same redaction
 * and format as the rest, and a line about a shipment carries its id and correlation id.
 */
export function temporalLogger(logger: AppLogger): TemporalLogger {
  const write = (level: LogLevel, message: string, meta: LogMetadata = {}) => {
    const { workflowId, ...rest } = meta as LogMetadata & { workflowId?: string };
    const ids = typeof workflowId === 'string' ? { shipmentId: workflowId, correlationId: workflowId } : {};
    logger[SDK_LEVELS[level]]({ ...rest, ...ids }, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
