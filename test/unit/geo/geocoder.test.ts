import { describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { Address } from '../../../src/domain/model.js';
import { normaliseCity } from '../../../src/integrations/geo/city-names.js';
import { ZipGeocoder } from '../../../src/integrations/geo/geocoder.js';

const geocoder = new ZipGeocoder();

function address(city: string, state: string, postalCode: string): Address {
  return { street: '1 Main St', city, state, postalCode, country: 'US' };
}

describe('normaliseCity', () => {
  it.each([
    ['St. Louis', 'SAINT LOUIS'],
    ['Saint Louis', 'SAINT LOUIS'],
    ['st louis', 'SAINT LOUIS'],
    ['Ft. Myers', 'FORT MYERS'],
    ['Fort  Myers', 'FORT MYERS'],
    ['Mt. Pleasant', 'MOUNT PLEASANT'],
    ["Coeur d'Alene", 'COEUR DALENE'],
    ['Winston-Salem', 'WINSTON SALEM'],
    ['Cañon City', 'CANON CITY'],
    ['  New   York ', 'NEW YORK'],
  ])('when the city is written "%s" then it compares as "%s"', (raw, expected) => {
    expect(normaliseCity(raw)).toBe(expected);
  });
});

describe('ZipGeocoder', () => {
  it.each([
    ['Chicago', 'IL', '60606', 41.8868, -87.6386],
    ['chicago', 'IL', '60606-1234', 41.8868, -87.6386],
    ['St. Louis', 'MO', '63101', 38.6346, -90.1913],
    ['St Louis', 'MO', '63101', 38.6346, -90.1913],
    ['Ft. Myers', 'FL', '33901', 26.6204, -81.8725],
    ['St. Augustine', 'FL', '32080', 29.7964, -81.2649],
    ['Allston', 'MA', '02134', 42.3535, -71.1329],
  ])(
    'when %s, %s %s agree then the ZIP centroid is returned without a mismatch',
    (city, state, zip, lat, lng) => {
      const result = geocoder.geocode(address(city, state, zip));
      expect(result.quality).toBe('postal_centroid');
      expect(result.geo).toEqual({ lat, lng });
      expect(result.mismatch).toBeUndefined();
      expect(result.city).toBe(city);
      expect(result.postalCode).toBe(zip);
    },
  );

  it.each([
    ['Evanston', 'IL', '60606', 'ZIP 60606 belongs to Chicago, IL, not Evanston.'],
    ['Chicago', 'WI', '60606', 'ZIP 60606 belongs to Chicago, IL, not to the state WI.'],
    ['Boston', 'MA', '10001', 'ZIP 10001 belongs to New York, NY, not Boston, MA.'],
    ['Saint Paul', 'MO', '63101', 'ZIP 63101 belongs to Saint Louis, MO, not Saint Paul.'],
  ])('when %s, %s disagrees with ZIP %s then the mismatch says so', (city, state, zip, sentence) => {
    const result = geocoder.geocode(address(city, state, zip));
    expect(result.quality).toBe('postal_centroid');
    expect(result.mismatch).toBe(sentence);
  });

  it.each([
    ['Chicago', 'IL', 41.8, 41.95, -87.8, -87.55],
    ['St. Paul', 'MN', 44.85, 45.05, -93.25, -92.95],
  ])(
    'when the ZIP is unknown but %s, %s is known then the city centroid is returned',
    (city, state, latMin, latMax, lngMin, lngMax) => {
      const result = geocoder.geocode(address(city, state, '00000'));
      expect(result.quality).toBe('city_centroid');
      expect(result.geo.lat).toBeGreaterThan(latMin);
      expect(result.geo.lat).toBeLessThan(latMax);
      expect(result.geo.lng).toBeGreaterThan(lngMin);
      expect(result.geo.lng).toBeLessThan(lngMax);
      expect(result.mismatch).toMatch(/^ZIP 00000 is not a known US ZIP code/);
    },
  );

  it.each([
    ['Nowhereville', 'IL', '00000'],
    ['Chicago', 'ZZ', '00000'],
    ['Ottawa', 'ON', 'K1A'],
  ])(
    'when neither the ZIP nor %s, %s is known then ADDRESS_NOT_FOUND names the ZIP field',
    (city, state, zip) => {
      let thrown: unknown;
      try {
        geocoder.geocode(address(city, state, zip));
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ShipsyncError);
      expect((thrown as ShipsyncError).code).toBe('ADDRESS_NOT_FOUND');
      expect((thrown as ShipsyncError).retryable).toBe(false);
      expect((thrown as ShipsyncError).details.field).toBe('address.postalCode');
    },
  );
});
