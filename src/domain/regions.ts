/* The regions' time zones, apart from the luxon arithmetic of `local-time.ts`: workflows take them without luxon. */

/** Time zone of each region, so a planning date or a service day means the region's local day. */
export const REGION_TIMEZONES: Readonly<Record<string, string>> = {
  CHI: 'America/Chicago',
  DAL: 'America/Chicago',
  ATL: 'America/New_York',
  PHX: 'America/Phoenix',
  NYC: 'America/New_York',
};

/** The region's time zone; UTC for a region this table does not know. */
export function regionTimeZone(region: string): string {
  return (Object.hasOwn(REGION_TIMEZONES, region) ? REGION_TIMEZONES[region] : undefined) ?? 'UTC';
}
