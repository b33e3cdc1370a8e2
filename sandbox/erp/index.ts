export {
  startErpSandbox,
  odataFaultResponder,
  DELIVERY_SERVICE_PATH,
  BILLING_SERVICE_PATH,
  MILESTONE_SERVICE_PATH,
  type ErpSandbox,
  type ErpSandboxOptions,
  type DeliveryInput,
} from './server.js';
export { REGIONS, REGION_CODES } from './regions.js';
export type { SeedOptions } from './seed.js';
