export { ZipGeocoder } from './geocoder.js';
export { normaliseCity, sameCity } from './city-names.js';
