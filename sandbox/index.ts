/**
 * The vendor sandboxes' public entry: an SAP S/4HANA-dialect ERP, an Onfleet-dialect dispatch platform with
 * route planning and a driver simulator, and a Zendesk-dialect CRM, each with fault injection and
 * read-only inspection endpoints. Dev tools and tests start them through this module.
 */
export * from './erp/index.js';
export * from './dispatch/index.js';
export * from './crm/index.js';
export { FaultSettings, FaultInjector } from './common/faults.js';
export type { Effect } from './common/effects.js';
