/** Public surface of the route optimiser: schemas and types, solving, re-planning, travel and validation. */
export * from './types.js';
export {
  buildTravelMatrix,
  estimateTravel,
  haversineMeters,
  DEFAULT_ROAD_FACTOR,
  DEFAULT_SPEED_KMH,
} from './travel.js';
export type { TravelOptions } from './travel.js';
export {
  optimize,
  optimizeWithStats,
  reoptimiseRoute,
  DEFAULT_SEED,
  DEFAULT_TIME_LIMIT_MS,
} from './optimize.js';
export type { ReoptimiseOptions, SolveStats } from './optimize.js';
export { OptimizeInputError } from './problem.js';
export { validateResult } from './validate.js';
export type { ValidationReport } from './validate.js';
