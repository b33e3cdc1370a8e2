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
