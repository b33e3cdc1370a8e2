import { localTimeToUtcMs } from '../../src/domain/local-time.js';
import { createRequire } from 'node:module';

/** One ZIP code's gazetteer entry from the `zipcodes` package. */
export interface ZipInfo {
  zip: string;
  latitude: number;
  longitude: number;
  city: string;
  state: string;
  country: string;
}

// zipcodes ships no type declarations; a local typed require keeps them out of the global scope.
const zipcodes = createRequire(import.meta.url)('zipcodes') as {
  lookup(zip: string | number): ZipInfo | undefined;
};

/** Looks a US ZIP code up in the offline gazetteer. */
export function lookupZip(zip: string): ZipInfo | undefined {
  return zipcodes.lookup(zip);
}

/** A dispatch region: its ZIPs, time zone, SAP shipping point and the streets seeded addresses use. */
export interface RegionDef {
  code: string;
  timeZone: string;
  /** SAP's time zone code for the receiving location (`TZONE`). */
  sapTimeZone: string;
  shippingPoint: string;
  route: string;
  areaCodes: string[];
  zips: ZipInfo[];
  streets: string[];
}

function zips(list: number[]): ZipInfo[] {
  return list.map((z) => {
    const info = lookupZip(String(z));
    if (!info) throw new Error(`ZIP ${z} is missing from the gazetteer`);
    return info;
  });
}

/** The regions the sandbox seeds deliveries in, each a set of neighbouring real ZIP codes. */
export const REGIONS: Record<string, RegionDef> = {
  CHI: {
    code: 'CHI',
    timeZone: 'America/Chicago',
    sapTimeZone: 'CST',
    shippingPoint: 'CH01',
    route: 'CHI001',
    areaCodes: ['312', '773'],
    zips: zips([
      60601, 60602, 60603, 60604, 60605, 60606, 60607, 60608, 60610, 60611, 60612, 60613, 60614, 60616, 60618,
      60622, 60625, 60640, 60647, 60657,
    ]),
    streets: [
      'N Clark St',
      'W Madison St',
      'S Halsted St',
      'N Milwaukee Ave',
      'W Fullerton Ave',
      'N Lincoln Ave',
      'S Wabash Ave',
      'W Division St',
      'N Broadway',
      'W Belmont Ave',
      'S Canal St',
      'W Chicago Ave',
    ],
  },
  DAL: {
    code: 'DAL',
    timeZone: 'America/Chicago',
    sapTimeZone: 'CST',
    shippingPoint: 'DA01',
    route: 'DAL001',
    areaCodes: ['214', '469'],
    zips: zips([
      75201, 75202, 75204, 75205, 75206, 75207, 75208, 75209, 75214, 75219, 75220, 75225, 75230, 75235, 75240,
      75243, 75244, 75248,
    ]),
    streets: [
      'Main St',
      'Elm St',
      'Commerce St',
      'Ross Ave',
      'McKinney Ave',
      'Greenville Ave',
      'Lemmon Ave',
      'N Harwood St',
      'Cedar Springs Rd',
      'W Davis St',
      'Inwood Rd',
      'Forest Ln',
    ],
  },
  ATL: {
    code: 'ATL',
    timeZone: 'America/New_York',
    sapTimeZone: 'EST',
    shippingPoint: 'AT01',
    route: 'ATL001',
    areaCodes: ['404', '678'],
    zips: zips([
      30303, 30305, 30306, 30307, 30308, 30309, 30310, 30312, 30313, 30318, 30319, 30324, 30326, 30327, 30329,
      30339, 30342,
    ]),
    streets: [
      'Peachtree St NE',
      'Piedmont Ave NE',
      'Spring St NW',
      'Ponce de Leon Ave NE',
      'Marietta St NW',
      'Northside Dr NW',
      'Howell Mill Rd NW',
      'Edgewood Ave SE',
      'Memorial Dr SE',
      'Roswell Rd NE',
      'Cheshire Bridge Rd NE',
      'Lenox Rd NE',
    ],
  },
  PHX: {
    code: 'PHX',
    timeZone: 'America/Phoenix',
    sapTimeZone: 'MSTNO',
    shippingPoint: 'PH01',
    route: 'PHX001',
    areaCodes: ['602', '480'],
    zips: zips([
      85003, 85004, 85006, 85007, 85008, 85012, 85013, 85014, 85015, 85016, 85018, 85020, 85021, 85022, 85028,
      85032,
    ]),
    streets: [
      'E Camelback Rd',
      'N Central Ave',
      'E Indian School Rd',
      'W Thomas Rd',
      'N 7th St',
      'E McDowell Rd',
      'N 16th St',
      'W Glendale Ave',
      'E Bell Rd',
      'N 24th St',
      'E Washington St',
      'N 19th Ave',
    ],
  },
  NYC: {
    code: 'NYC',
    timeZone: 'America/New_York',
    sapTimeZone: 'EST',
    shippingPoint: 'NY01',
    route: 'NYC001',
    areaCodes: ['212', '646'],
    zips: zips([
      10001, 10002, 10003, 10009, 10010, 10011, 10012, 10013, 10014, 10016, 10017, 10018, 10019, 10021, 10022,
      10023, 10024, 10025, 10028,
    ]),
    streets: [
      'Broadway',
      'W 34th St',
      'E 14th St',
      'Lexington Ave',
      'Amsterdam Ave',
      'W 57th St',
      'Avenue A',
      'Canal St',
      'Madison Ave',
      'W 23rd St',
      'E 86th St',
      'Hudson St',
    ],
  },
};

/** Region codes in a stable order. */
export const REGION_CODES = Object.keys(REGIONS);

/** The UTC epoch ms of a local wall-clock time on a calendar date in a time zone. */
export function zonedTimeToUtc(date: string, minutesOfDay: number, timeZone: string): number {
  return localTimeToUtcMs(date, minutesOfDay * 60, timeZone);
}
