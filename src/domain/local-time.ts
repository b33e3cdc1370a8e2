import { DateTime } from 'luxon';

export { REGION_TIMEZONES, regionTimeZone } from './regions.js';

/** Local calendar and wall-clock time of a region (IANA time zone), daylight-saving aware, through luxon. */

/** Milliseconds the zone is ahead of UTC at an instant (negative in the Americas). */
export function zoneOffsetMs(timeZone: string, utcMs: number): number {
  return DateTime.fromMillis(utcMs, { zone: timeZone }).offset * 60_000;
}

/** True when the string names a time zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  return DateTime.now().setZone(timeZone).isValid;
}

/** The UTC instant of a local wall-clock time (seconds after midnight) on a calendar date in a zone. */
export function localTimeToUtcMs(date: string, secondsOfDay: number, timeZone: string): number {
  const days = Math.floor(secondsOfDay / 86_400);
  const rest = secondsOfDay - days * 86_400;
  return DateTime.fromISO(date, { zone: timeZone })
    .plus({ days })
    .set({ hour: Math.floor(rest / 3600), minute: Math.floor((rest % 3600) / 60), second: rest % 60 })
    .toMillis();
}

/** The UTC instant of local midnight starting a calendar date in a zone. */
export function localMidnightMs(date: string, timeZone: string): number {
  return DateTime.fromISO(date, { zone: timeZone }).startOf('day').toMillis();
}

/** The local calendar date (YYYY-MM-DD) of an instant in a zone. */
export function localDateOf(utcMs: number, timeZone: string): string {
  return DateTime.fromMillis(utcMs, { zone: timeZone }).toISODate() ?? '';
}

/** ISO weekday (1 = Monday) of an instant on the zone's calendar. */
export function localWeekday(instant: string, timeZone: string): number {
  return DateTime.fromISO(instant, { zone: timeZone }).weekday;
}

/** The same local wall-clock time `days` calendar days later in the zone (23 or 25 hours across DST). */
export function plusLocalDays(instant: string, days: number, timeZone: string): string {
  return DateTime.fromISO(instant, { zone: timeZone }).plus({ days }).toUTC().toISO() ?? instant;
}

/** Seconds after midnight of an "HH:MM" string. */
export function secondsOfHhMm(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 3600 + m * 60;
}
