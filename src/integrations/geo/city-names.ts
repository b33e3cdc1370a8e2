/** Abbreviations written in US place names, and the word the gazetteer spells out. */
const ABBREVIATIONS: Record<string, string> = {
  ST: 'SAINT',
  STE: 'SAINTE',
  FT: 'FORT',
  MT: 'MOUNT',
  MTN: 'MOUNTAIN',
  PT: 'POINT',
  HTS: 'HEIGHTS',
  SPGS: 'SPRINGS',
  SPG: 'SPRING',
  JCT: 'JUNCTION',
  VLG: 'VILLAGE',
  TWP: 'TOWNSHIP',
  BCH: 'BEACH',
  CTR: 'CENTER',
  CNTR: 'CENTER',
  CENTRE: 'CENTER',
  LK: 'LAKE',
  LKS: 'LAKES',
  IS: 'ISLAND',
  ISL: 'ISLAND',
  PK: 'PARK',
  N: 'NORTH',
  S: 'SOUTH',
  E: 'EAST',
  W: 'WEST',
};

/**
 * A city name reduced to a comparable form: upper case, no punctuation, single spaces, common
 * abbreviations spelled out ("St. Louis" and "Saint Louis" both become "SAINT LOUIS").
 */
export function normaliseCity(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase()
    .replace(/['\u2019`]/g, '')
    .replace(/[^A-Z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean)
    .map((word) => (Object.hasOwn(ABBREVIATIONS, word) ? ABBREVIATIONS[word]! : word))
    .join(' ');
}

/** True when two city names denote the same place after normalisation. */
export function sameCity(a: string, b: string): boolean {
  return normaliseCity(a) === normaliseCity(b);
}
