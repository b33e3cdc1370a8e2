import { z } from 'zod';

/** A compressed clock's settings as they cross a boundary (what they mean: `clock-math.ts`). */
export const ClockSettings = z.object({
  scale: z.number().positive().max(100_000),
  anchorRealMs: z.number().int().nonnegative(),
  anchorSimMs: z.number().int().nonnegative(),
});
export type ClockSettings = z.infer<typeof ClockSettings>;

export { REAL_CLOCK, realAt, realDuration, simAt } from './clock-math.js';
