import { describe, expect, it } from 'vitest';
import {
  buildTravelMatrix,
  DEFAULT_ROAD_FACTOR,
  DEFAULT_SPEED_KMH,
  estimateTravel,
  haversineMeters,
} from '../../../sandbox/dispatch/optimizer/travel.js';
import type { Coordinates } from '../../../sandbox/dispatch/optimizer/types.js';

/** Real US places as [lng, lat]. */
const EMPIRE_STATE: Coordinates = [-73.9857, 40.7484];
const LA_CITY_HALL: Coordinates = [-118.2427, 34.0537];
const CHICAGO_LOOP: Coordinates = [-87.6298, 41.8781];
const MILWAUKEE: Coordinates = [-87.9065, 43.0389];
const OHARE: Coordinates = [-87.9073, 41.9742];

describe('haversine travel', () => {
  it('matches known great-circle distances between US cities', () => {
    // New York to Los Angeles is about 3,936 km as the crow flies.
    expect(haversineMeters(EMPIRE_STATE, LA_CITY_HALL) / 1000).toBeCloseTo(3936, -1);
    // Chicago to Milwaukee is about 131 km.
    expect(haversineMeters(CHICAGO_LOOP, MILWAUKEE) / 1000).toBeGreaterThan(125);
    expect(haversineMeters(CHICAGO_LOOP, MILWAUKEE) / 1000).toBeLessThan(135);
    expect(haversineMeters(OHARE, OHARE)).toBe(0);
    expect(haversineMeters(CHICAGO_LOOP, OHARE)).toBeCloseTo(haversineMeters(OHARE, CHICAGO_LOOP), 6);
  });

  it('turns great-circle distance into road metres and seconds with the road factor and speed', () => {
    const crow = haversineMeters(CHICAGO_LOOP, OHARE);
    const { distance, duration } = estimateTravel(CHICAGO_LOOP, OHARE);
    expect(DEFAULT_ROAD_FACTOR).toBe(1.3);
    expect(DEFAULT_SPEED_KMH).toBe(40);
    expect(distance).toBe(Math.round(crow * 1.3));
    expect(duration).toBe(Math.round(distance / (40 / 3.6)));
    // The Loop to O'Hare is about 25 km as the crow flies: 33 km of road, roughly 49 minutes at 40 km/h.
    expect(crow / 1000).toBeCloseTo(25.3, 0);
    expect(duration / 60).toBeGreaterThan(45);
    expect(duration / 60).toBeLessThan(55);
    const faster = estimateTravel(CHICAGO_LOOP, OHARE, { roadFactor: 1, speedKmh: 80 });
    expect(faster.distance).toBe(Math.round(crow));
    expect(faster.duration).toBe(Math.round(faster.distance / (80 / 3.6)));
  });

  it('builds a symmetric matrix with a zero diagonal', () => {
    const points = [CHICAGO_LOOP, OHARE, MILWAUKEE];
    const m = buildTravelMatrix(points);
    for (let i = 0; i < points.length; i++) {
      expect(m.durations[i]![i]).toBe(0);
      expect(m.distances[i]![i]).toBe(0);
      for (let j = 0; j < points.length; j++) {
        expect(m.durations[i]![j]).toBe(m.durations[j]![i]);
        expect(m.distances[i]![j]).toBe(estimateTravel(points[i]!, points[j]!).distance);
      }
    }
  });
});
