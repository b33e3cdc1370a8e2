import { describe, expect, it } from 'vitest';
import { REGION_PLANNING_WORKFLOW_TYPE } from '../../../src/workflows/planning/contract.js';
import { ORDER_RELEASE_WORKFLOW_TYPE } from '../../../src/workflows/release/contract.js';
import { SHIPMENT_WORKFLOW_TYPE } from '../../../src/workflows/shipment/contract.js';
import * as workflows from '../../../src/workflows/index.js';

describe('workflow type names', () => {
  it('when a client starts a workflow by its contract name then a worker has a workflow function of that name', () => {
    const registered = Object.values(workflows).map((fn) => fn.name);
    expect(registered).toEqual(
      expect.arrayContaining([
        SHIPMENT_WORKFLOW_TYPE,
        ORDER_RELEASE_WORKFLOW_TYPE,
        REGION_PLANNING_WORKFLOW_TYPE,
      ]),
    );
    expect(workflows.ShipmentWorkflow.name).toBe(SHIPMENT_WORKFLOW_TYPE);
    expect(workflows.OrderReleaseWorkflow.name).toBe(ORDER_RELEASE_WORKFLOW_TYPE);
    expect(workflows.RegionPlanningWorkflow.name).toBe(REGION_PLANNING_WORKFLOW_TYPE);
  });
});
