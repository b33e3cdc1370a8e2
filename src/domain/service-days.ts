import { localWeekday, plusLocalDays } from './local-time.js';

/* A customer's service days on the region's calendar (luxon, through `local-time.ts`). */

/**
 * The next window on a customer service day after the given one, at the same local time of day: calendar days
 * and weekdays are the region's (`timeZone`), so a window keeps its local hours across a daylight-saving change.
 */
export function nextServiceWindow(
  window: { start: string; end: string },
  serviceDays: readonly number[],
  timeZone = 'UTC',
) {
  for (let days = 1; days <= 7; days++) {
    const start = plusLocalDays(window.start, days, timeZone);
    if (serviceDays.includes(localWeekday(start, timeZone)) || days === 7)
      return { start, end: plusLocalDays(window.end, days, timeZone) };
  }
  return window;
}

/** ISO weekday (1 = Monday) of an instant on the region's calendar (`timeZone`, UTC by default). */
export function isoWeekday(instant: string, timeZone = 'UTC'): number {
  return localWeekday(instant, timeZone);
}
