import { z } from 'zod';

/** A [longitude, latitude] pair in degrees (GeoJSON order, as VROOM expects). */
export const CoordinatesSchema = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]);

/** A [start, end] time window in seconds; start must not be after end. */
export const TimeWindowSchema = z
  .tuple([z.number(), z.number()])
  .refine(([start, end]) => start <= end, { message: 'time window start must not be after its end' });

/** A stop to serve: where, how long, how much it takes off the vehicle, and when it may start. */
export const JobSchema = z.object({
  id: z.number().int(),
  location_index: z.number().int().nonnegative().optional(),
  location: CoordinatesSchema.optional(),
  service: z.number().nonnegative(),
  delivery: z.array(z.number().nonnegative()),
  time_windows: z.array(TimeWindowSchema),
  skills: z.array(z.number().int()).optional(),
  priority: z.number().int().min(0).max(100).optional(),
  description: z.string().optional(),
});

/** A vehicle with its depots, capacity, shift and optional limits. */
export const VehicleSchema = z.object({
  id: z.number().int(),
  start_index: z.number().int().nonnegative().optional(),
  start: CoordinatesSchema.optional(),
  end_index: z.number().int().nonnegative().optional(),
  end: CoordinatesSchema.optional(),
  capacity: z.array(z.number().nonnegative()),
  time_window: TimeWindowSchema,
  skills: z.array(z.number().int()).optional(),
  max_travel_time: z.number().nonnegative().optional(),
  speed_factor: z.number().positive().optional(),
});

/** A square travel matrix: durations in seconds and distances in metres (or the instance's own units). */
export const MatrixSchema = z.object({
  durations: z.array(z.array(z.number().nonnegative())),
  distances: z.array(z.array(z.number().nonnegative())),
});

/** Solver knobs; everything is optional and has a sensible default. */
export const OptimizeOptionsSchema = z.object({
  timeLimitMs: z.number().int().nonnegative().optional(),
  seed: z.number().int().optional(),
  maxIterations: z.number().int().nonnegative().optional(),
  roadFactor: z.number().positive().optional(),
  speedKmh: z.number().positive().optional(),
});

/** The optimiser's input, shaped like a VROOM problem. */
export const OptimizeInputSchema = z.object({
  jobs: z.array(JobSchema),
  vehicles: z.array(VehicleSchema),
  matrix: MatrixSchema.optional(),
  options: OptimizeOptionsSchema.optional(),
});

/** Why a job could not be planned. */
export const UnassignedReasonSchema = z.enum(['capacity', 'time_window', 'skills', 'shift', 'no_vehicle']);

/** One stop of a planned route, with VROOM's cumulative duration and distance. */
export const StepSchema = z.object({
  type: z.enum(['start', 'job', 'end']),
  id: z.number().int().optional(),
  job: z.number().int().optional(),
  location: CoordinatesSchema.optional(),
  location_index: z.number().int().optional(),
  arrival: z.number(),
  duration: z.number(),
  distance: z.number(),
  load: z.array(z.number()),
  service: z.number(),
  waiting_time: z.number(),
});

/** One vehicle's planned route. */
export const RouteSchema = z.object({
  vehicle: z.number().int(),
  cost: z.number(),
  delivery: z.array(z.number()),
  duration: z.number(),
  distance: z.number(),
  service: z.number(),
  waiting_time: z.number(),
  steps: z.array(StepSchema),
});

/** A job left out of the plan, with the reason. */
export const UnassignedSchema = z.object({
  id: z.number().int(),
  type: z.literal('job'),
  reason: UnassignedReasonSchema,
});

/** The optimiser's output, shaped like a VROOM solution. */
export const OptimizeResultSchema = z.object({
  code: z.literal(0),
  summary: z.object({
    cost: z.number(),
    routes: z.number().int(),
    unassigned: z.number().int(),
    delivery: z.array(z.number()),
    service: z.number(),
    duration: z.number(),
    distance: z.number(),
    waiting_time: z.number(),
    computing_times: z.object({ loading: z.number(), solving: z.number() }),
  }),
  routes: z.array(RouteSchema),
  unassigned: z.array(UnassignedSchema),
});

/** A [longitude, latitude] pair in degrees. */
export type Coordinates = z.infer<typeof CoordinatesSchema>;
/** A [start, end] time window in seconds. */
export type TimeWindow = z.infer<typeof TimeWindowSchema>;
/** A stop to serve. */
export type Job = z.infer<typeof JobSchema>;
/** A vehicle with depots, capacity and shift. */
export type Vehicle = z.infer<typeof VehicleSchema>;
/** Durations and distances between location indices. */
export type Matrix = z.infer<typeof MatrixSchema>;
/** Solver knobs. */
export type OptimizeOptions = z.infer<typeof OptimizeOptionsSchema>;
/** The optimiser's input. */
export type OptimizeInput = z.infer<typeof OptimizeInputSchema>;
/** Why a job could not be planned. */
export type UnassignedReason = z.infer<typeof UnassignedReasonSchema>;
/** One stop of a planned route. */
export type Step = z.infer<typeof StepSchema>;
/** One vehicle's planned route. */
export type Route = z.infer<typeof RouteSchema>;
/** A job left out of the plan. */
export type Unassigned = z.infer<typeof UnassignedSchema>;
/** The optimiser's output. */
export type OptimizeResult = z.infer<typeof OptimizeResultSchema>;
