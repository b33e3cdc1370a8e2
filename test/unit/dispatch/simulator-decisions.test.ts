import { describe, expect, it } from 'vitest';
import { REAL_CLOCK } from '../../../src/domain/clock.js';
import type { OnfleetTask } from '../../../sandbox/dispatch/onfleet.js';
import {
  DriverSimulator,
  type SimulatorHost,
  type SimulatorSettingsInput,
} from '../../../sandbox/dispatch/simulator.js';

const idle: SimulatorHost = {
  clock: REAL_CLOCK,
  simNow: () => Date.now(),
  routesWithWork: () => [],
  routeTasks: () => undefined,
  routeFrame: () => undefined,
  task: () => undefined,
  startTask: () => undefined,
  ping: () => undefined,
  arrive: () => undefined,
  finish: () => undefined,
  moveWorker: () => undefined,
};

function task(key: string | undefined, id = 'task-1'): OnfleetTask {
  return {
    id,
    metadata:
      key === undefined ? [] : [{ name: 'shipsyncKey', type: 'string', value: key, visibility: ['api'] }],
  } as unknown as OnfleetTask;
}

function decide(seed: number, settings: SimulatorSettingsInput, t: OnfleetTask) {
  return new DriverSimulator(idle, seed, settings).decide(t);
}

describe('driver simulator decisions', () => {
  it('when the seed and key are the same then the decision is the same, upload ids included', () => {
    const a = decide(9, { failureRate: 0.5 }, task('shipment-1:task:1', 'id-a'));
    const b = decide(9, { failureRate: 0.5 }, task('shipment-1:task:1', 'id-b'));
    expect(b).toEqual(a);
  });

  it('when the seed differs then the upload ids differ', () => {
    const a = decide(9, {}, task('shipment-1:task:1'));
    const b = decide(10, {}, task('shipment-1:task:1'));
    expect(b.signatureUploadId).not.toBe(a.signatureUploadId);
  });

  it('when a task has no key then its id seeds the decision', () => {
    expect(decide(9, {}, task(undefined, 'x1'))).toEqual(decide(9, {}, task(undefined, 'x1')));
    expect(decide(9, {}, task(undefined, 'x1')).signatureUploadId).not.toBe(
      decide(9, {}, task(undefined, 'x2')).signatureUploadId,
    );
  });

  it.each<[string, SimulatorSettingsInput, string, string]>([
    ['every stop is damaged', { damageRate: 1, failureRate: 0 }, 'failed', 'DAMAGED'],
    [
      'every stop fails with the absent recipient only',
      {
        damageRate: 0,
        failureRate: 1,
        failureReasons: { recipient_absent: 1, address_not_found: 0, refused: 0 },
      },
      'failed',
      'NOT_AVAILABLE',
    ],
    [
      'every stop fails at a bad address only',
      {
        damageRate: 0,
        failureRate: 1,
        failureReasons: { recipient_absent: 0, address_not_found: 1, refused: 0 },
      },
      'failed',
      'POOR_ADDRESS',
    ],
    [
      'every stop is refused',
      {
        damageRate: 0,
        failureRate: 1,
        failureReasons: { recipient_absent: 0, address_not_found: 0, refused: 1 },
      },
      'failed',
      'REFUSED',
    ],
    ['nothing fails', { damageRate: 0, failureRate: 0 }, 'completed', 'NONE'],
  ])('when %s then the outcome follows', (_label, settings, outcome, reason) => {
    for (let i = 0; i < 20; i++) {
      const d = decide(1, settings, task(`k${i}`));
      expect([d.outcome, d.failureReason]).toEqual([outcome, reason]);
    }
  });

  it('when rates are in between then over many tasks the shares come close to them', () => {
    const n = 2000;
    const decisions = Array.from({ length: n }, (_, i) =>
      decide(3, { failureRate: 0.2, damageRate: 0.05, delayRate: 0.3 }, task(`k${i}`)),
    );
    const failed = decisions.filter((d) => d.outcome === 'failed').length / n;
    const damaged = decisions.filter((d) => d.failureReason === 'DAMAGED').length / n;
    const late = decisions.filter((d) => d.late).length / n;
    expect(failed).toBeGreaterThan(0.2);
    expect(failed).toBeLessThan(0.3);
    expect(damaged).toBeGreaterThan(0.03);
    expect(damaged).toBeLessThan(0.07);
    expect(late).toBeGreaterThan(0.25);
    expect(late).toBeLessThan(0.35);
    expect(decisions.every((d) => d.drift >= -0.1 && d.drift <= 0.25 && d.photoUploadIds.length >= 1)).toBe(
      true,
    );
  });
});
