export { ShipmentWorkflow } from './shipment/workflow.js';
export { OrderReleaseWorkflow } from './release/workflow.js';
export { RegionPlanningWorkflow } from './planning/workflow.js';
export { ReconciliationWorkflow } from './reconciliation/workflow.js';
