/** Local wall-clock time of a region (IANA time zone) without a date library, through Intl. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function wallClock(timeZone: string, utcMs: number) {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(utcMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year ?? 1970,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Milliseconds the zone is ahead of UTC at an instant (negative in the Americas). */
export function zoneOffsetMs(timeZone: string, utcMs: number): number {
  const w = wallClock(timeZone, utcMs);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** True when the string names a time zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The UTC instant of a local wall-clock time (seconds after midnight) on a calendar date in a zone. */
export function localTimeToUtcMs(date: string, secondsOfDay: number, timeZone: string): number {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const wall = Date.UTC(y, m - 1, d) + secondsOfDay * 1000;
  const first = wall - zoneOffsetMs(timeZone, wall);
  // A second pass settles instants near a daylight-saving change.
  return wall - zoneOffsetMs(timeZone, first);
}

/** The UTC instant of local midnight starting a calendar date in a zone. */
export function localMidnightMs(date: string, timeZone: string): number {
  return localTimeToUtcMs(date, 0, timeZone);
}

/** The local calendar date (YYYY-MM-DD) of an instant in a zone. */
export function localDateOf(utcMs: number, timeZone: string): string {
  const w = wallClock(timeZone, utcMs);
  return `${String(w.year).padStart(4, '0')}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;
}

/** Seconds after midnight of an "HH:MM" string. */
export function secondsOfHhMm(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 3600 + m * 60;
}
