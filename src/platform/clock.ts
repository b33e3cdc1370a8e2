import type { ClockSettings } from '../domain/clock.js';
import type { Config } from './config.js';

/** The compressed clock every process of one deployment shares, from configuration. */
export function clockFromConfig(config: Config, nowMs = Date.now()): ClockSettings {
  const anchorRealMs = config.SHIPSYNC_CLOCK_ANCHOR_REAL_MS ?? nowMs;
  const anchorSimMs = config.SHIPSYNC_CLOCK_ANCHOR_SIM
    ? Date.parse(config.SHIPSYNC_CLOCK_ANCHOR_SIM)
    : anchorRealMs;
  return { scale: config.SHIPSYNC_TIME_SCALE, anchorRealMs, anchorSimMs };
}
