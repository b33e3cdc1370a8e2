export { startDispatchSandbox, DEFAULT_DISPATCH_API_KEY, DEFAULT_DISPATCH_WEBHOOK_SECRET } from './server.js';
export type { DispatchSandbox, DispatchSandboxOptions } from './server.js';
export { SimulatorSettings } from './simulator.js';
export type { SimulatorSettingsInput } from './simulator.js';
export { DEFAULT_TEAMS } from './seed.js';
export type { TeamSeed } from './seed.js';
export { WEBHOOK_TRIGGERS, ONFLEET_FAILURE_REASONS, TASK_STATE } from './onfleet.js';
export type { OnfleetTask, OnfleetWorker, OnfleetTeam, OnfleetWebhook, TriggerName } from './onfleet.js';

/** The webhook triggers that carry a shipment milestone, which shipsync's gateway subscribes to. */
export const SHIPMENT_WEBHOOK_TRIGGERS = [
  'taskAssigned',
  'taskUnassigned',
  'taskStarted',
  'taskEta',
  'taskArrival',
  'taskCompleted',
  'taskFailed',
  'taskDelayed',
] as const;
