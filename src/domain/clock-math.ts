/**
 * The compressed clock's arithmetic, without its schema (`clock.ts`): workflows import it from here so their
 * bundle never evaluates zod (see `docs/architecture.md`, "What a cached workflow costs").
 */

/**
 * The compressed clock shared by workflows, sandboxes and the driver simulator: simulated time runs
 * `scale` times faster than real time from an anchor where both are known. Scale 1 with equal anchors is
 * the real clock (production).
 */
export interface ClockSettings {
  scale: number;
  anchorRealMs: number;
  anchorSimMs: number;
}

/** The real clock: no compression, no offset. */
export const REAL_CLOCK: ClockSettings = { scale: 1, anchorRealMs: 0, anchorSimMs: 0 };

/** Simulated epoch milliseconds at a real instant. */
export function simAt(c: ClockSettings, realMs: number): number {
  return Math.round(c.anchorSimMs + (realMs - c.anchorRealMs) * c.scale);
}

/** Real epoch milliseconds at which a simulated instant happens. */
export function realAt(c: ClockSettings, simMs: number): number {
  return Math.round(c.anchorRealMs + (simMs - c.anchorSimMs) / c.scale);
}

/** Real milliseconds a simulated duration takes (at least 1 ms, so timers always yield). */
export function realDuration(c: ClockSettings, simMs: number): number {
  return Math.max(1, Math.round(simMs / c.scale));
}
