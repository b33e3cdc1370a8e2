import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, temporalLogger, withCorrelation } from '../../../src/platform/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('logger', () => {
  it('when a line carries personal data then names, phones, addresses and signatures are redacted', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
        order: { address: { street: '233 S Wacker' } },
        pod: { signature: 'base64...' },
      },
      'x',
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('Dana');
    expect(text).not.toContain('555');
    expect(text).not.toContain('Wacker');
    expect(text).not.toContain('base64');
    expect(text).toContain('[redacted]');
  });

  it('when a correlated child logs then every line carries shipment, workflow and event ids', () => {
    const { lines, logger } = capture();
    withCorrelation(logger, { shipmentId: 's1', workflowId: 'shipment-s1', eventId: 'e1' }).info('hello');
    expect(lines[0]).toMatchObject({
      shipmentId: 's1',
      workflowId: 'shipment-s1',
      eventId: 'e1',
      msg: 'hello',
    });
  });

  it('when the Temporal SDK logs about a workflow then the line is redacted and carries the shipment and correlation ids', () => {
    const { lines, logger } = capture();
    temporalLogger(logger).warn('dispatch event could not be applied', {
      workflowId: 'shipment-80000042',
      sdkComponent: 'workflow',
      recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
    });
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'dispatch event could not be applied',
      shipmentId: 'shipment-80000042',
      correlationId: 'shipment-80000042',
      sdkComponent: 'workflow',
    });
    expect(JSON.stringify(lines[0])).not.toContain('Dana');
  });

  it('when the SDK logs below the configured level then nothing is written', () => {
    const { lines, logger } = capture();
    temporalLogger(logger).debug('poll', {});
    temporalLogger(logger).log('ERROR', 'worker failed', {});
    expect(lines.map((l) => l.msg)).toEqual(['worker failed']);
  });
});
