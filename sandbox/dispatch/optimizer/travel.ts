import type { Coordinates, Matrix } from './types.js';

/** Road distance is longer than the great circle; 1.3 is a common detour factor for US road networks. */
export const DEFAULT_ROAD_FACTOR = 1.3;

/** Average door-to-door speed of a delivery van in mixed urban and suburban traffic. */
export const DEFAULT_SPEED_KMH = 40;

/** Mean Earth radius in metres (IUGG). */
const EARTH_RADIUS_M = 6_371_008.8;

/** How great-circle distances become road distances and durations. */
export interface TravelOptions {
  /** Multiplier from great-circle to road distance. */
  roadFactor?: number;
  /** Average speed in km/h used to turn distance into seconds. */
  speedKmh?: number;
}

/** Great-circle distance in metres between two [lng, lat] points (haversine formula). */
export function haversineMeters(a: Coordinates, b: Coordinates): number {
  const toRad = Math.PI / 180;
  const dLat = (b[1] - a[1]) * toRad;
  const dLng = (b[0] - a[0]) * toRad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a[1] * toRad) * Math.cos(b[1] * toRad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Estimated road distance (metres) and driving time (seconds) between two points. */
export function estimateTravel(
  a: Coordinates,
  b: Coordinates,
  options: TravelOptions = {},
): { distance: number; duration: number } {
  const roadFactor = options.roadFactor ?? DEFAULT_ROAD_FACTOR;
  const metresPerSecond = ((options.speedKmh ?? DEFAULT_SPEED_KMH) * 1000) / 3600;
  const distance = Math.round(haversineMeters(a, b) * roadFactor);
  return { distance, duration: Math.round(distance / metresPerSecond) };
}

/** Builds a full duration/distance matrix (integer seconds and metres, like OSRM) between the given points. */
export function buildTravelMatrix(points: readonly Coordinates[], options: TravelOptions = {}): Matrix {
  const size = points.length;
  const durations: number[][] = [];
  const distances: number[][] = [];
  for (let i = 0; i < size; i++) {
    durations.push(new Array<number>(size).fill(0));
    distances.push(new Array<number>(size).fill(0));
  }
  for (let i = 0; i < size; i++) {
    for (let j = i + 1; j < size; j++) {
      const { distance, duration } = estimateTravel(points[i]!, points[j]!, options);
      distances[i]![j] = distance;
      distances[j]![i] = distance;
      durations[i]![j] = duration;
      durations[j]![i] = duration;
    }
  }
  return { durations, distances };
}
