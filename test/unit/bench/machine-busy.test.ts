import { describe, expect, it } from 'vitest';
import { cpus } from 'node:os';
import { busySampler } from '../../../tools/bench/measure.js';

describe('how busy the machine was during a bench run', () => {
  it('when the sampler runs then each sample is the busy share of all cores, and a core kept spinning shows', () => {
    const sampler = busySampler(50);
    // Keep this thread's core busy for 400 ms.
    const until = Date.now() + 400;
    while (Date.now() < until) Math.sqrt(Math.random());
    const figures = sampler.stop();
    expect(figures.samples).toBeGreaterThanOrEqual(1);
    // The spinning thread alone kept one of the cores busy.
    expect(figures.p90BusyShare).toBeGreaterThanOrEqual(0.9 / cpus().length);
    expect(figures.meanBusyShare).toBeLessThanOrEqual(1);
    expect(figures.p90BusyShare).toBeGreaterThanOrEqual(figures.p50BusyShare ?? 0);
    expect(figures.samplesAtLeast95PercentBusy).toBeLessThanOrEqual(figures.samples);
  });
});
