import { createRequire } from 'node:module';
import { ShipsyncError } from '../../domain/errors.js';
import type { Address, GeocodedAddress } from '../../domain/model.js';
import type { GeocoderPort } from '../ports.js';
import { normaliseCity } from './city-names.js';

/** One entry of the `zipcodes` gazetteer. */
interface ZipEntry {
  zip: string;
  latitude: number;
  longitude: number;
  city: string;
  state: string;
  country: string;
}

/** The part of the `zipcodes` package this geocoder uses (it ships no type declarations). */
interface ZipGazetteer {
  lookup(zip: string): ZipEntry | undefined;
  lookupByState(state: string): ZipEntry[];
}

const gazetteer = createRequire(import.meta.url)('zipcodes') as ZipGazetteer;

/** Coordinates rounded to 4 decimals (about 11 m), the gazetteer's own precision. */
function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

/**
 * Offline geocoder over the US ZIP gazetteer of the `zipcodes` package. A known ZIP gives its centroid
 * (`postal_centroid`) and a `mismatch` sentence when the address's city or state disagree with it; an
 * unknown ZIP in a known city gives the city's centroid (`city_centroid`); anything else is ADDRESS_NOT_FOUND.
 */
export class ZipGeocoder implements GeocoderPort {
  private readonly cityIndex = new Map<string, { lat: number; lng: number }>();

  /** Validates and locates an address. */
  geocode(address: Address): GeocodedAddress {
    const zip = /^(\d{5})(-\d{4})?$/.exec(address.postalCode.trim())?.[1];
    const state = address.state.trim().toUpperCase();
    const entry = zip ? gazetteer.lookup(zip) : undefined;
    if (zip && entry && entry.country === 'US') {
      const mismatch = this.mismatch(zip, entry, address.city, state);
      return {
        ...address,
        geo: { lat: entry.latitude, lng: entry.longitude },
        quality: 'postal_centroid',
        ...(mismatch ? { mismatch } : {}),
      };
    }
    const city = this.cityCentroid(address.city, state);
    if (city) {
      return {
        ...address,
        geo: city,
        quality: 'city_centroid',
        mismatch: `ZIP ${address.postalCode} is not a known US ZIP code; located at the centre of ${address.city}, ${state} instead.`,
      };
    }
    throw new ShipsyncError(
      'ADDRESS_NOT_FOUND',
      `ZIP ${address.postalCode} is not a known US ZIP code and ${address.city}, ${state} is not a known city`,
      { field: 'address.postalCode' },
    );
  }

  private mismatch(zip: string, entry: ZipEntry, city: string, state: string): string | undefined {
    const stateOk = entry.state === state;
    const cityOk = normaliseCity(entry.city) === normaliseCity(city);
    if (stateOk && cityOk) return undefined;
    const where = `${entry.city}, ${entry.state}`;
    if (!stateOk && !cityOk) return `ZIP ${zip} belongs to ${where}, not ${city}, ${state}.`;
    if (!stateOk) return `ZIP ${zip} belongs to ${where}, not to the state ${state}.`;
    return `ZIP ${zip} belongs to ${where}, not ${city}.`;
  }

  /** Mean position of the ZIP centroids of a city, memoised per city and state. */
  private cityCentroid(city: string, state: string): { lat: number; lng: number } | undefined {
    const name = normaliseCity(city);
    if (!name || !/^[A-Z]{2}$/.test(state)) return undefined;
    const id = `${state}|${name}`;
    let found = this.cityIndex.get(id);
    if (!found) {
      const zips = gazetteer
        .lookupByState(state)
        .filter((e) => e.country === 'US' && e.state === state && normaliseCity(e.city) === name);
      if (zips.length === 0) return undefined;
      found = {
        lat: round(zips.reduce((s, e) => s + e.latitude, 0) / zips.length),
        lng: round(zips.reduce((s, e) => s + e.longitude, 0) / zips.length),
      };
      this.cityIndex.set(id, found);
    }
    return { ...found };
  }
}
