import { allHandlersFinished, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { ShipmentInput, ShipmentResult } from './contract.js';
import { registerHandlers } from './handlers.js';
import { ShipmentRun } from './run.js';
import { reviewCases } from './sla.js';
import { isCancelled } from './state.js';
import {
  afterFailure,
  awaitAddress,
  awaitAssignment,
  awaitOutcome,
  bill,
  closeCancelled,
  followUp,
  recordDelivered,
  validateAddress,
} from './steps.js';

export {
  CASE_SLA_PATCH,
  ETA_DRIFT_PATCH,
  FOUR_EYES_PATCH,
  OPERATOR_ACTIONS_SLA_PATCH,
  PARKED_OUTBOUND_PATCH,
  SERIALIZED_HANDLERS_PATCH,
  SIDE_EFFECT_LANES_PATCH,
  STATUS_FIRST_PATCH,
  TASK_MEMO_PATCH,
} from './patches.js';

/**
 * One ERP outbound delivery from release to closure: validate and geocode the address, publish the route
 * job, follow the driver's events, run the exception playbooks, bill once, close the cases. The state is
 * carried across continue-as-new, so a run resumes at the phase the last one left.
 */
export async function ShipmentWorkflow(input: ShipmentInput): Promise<ShipmentResult> {
  const run = new ShipmentRun(input);
  registerHandlers(run);
  const { s } = run;
  while (s.phase !== 'closed') {
    followUp(run);
    await run.effects.flush();
    if (run.caseSlas) await reviewCases(run);
    run.publishStatus();
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await run.effects.flush();
      await continueAsNew<typeof ShipmentWorkflow>({ ...input, carried: s });
    }
    await next(run);
  }
  // Breaches of cases the closing shipment solved end as resolved.
  if (run.caseSlas) await reviewCases(run);
  run.publishStatus();
  await condition(allHandlersFinished);
  return resultOf(run);
}

/** One step of the story: release → validate → publish → plan → execute → exceptions → bill → close. */
async function next(run: ShipmentRun): Promise<void> {
  if (run.operatorActions && isCancelled(run.s)) return closeCancelled(run);
  switch (run.s.phase) {
    case 'released':
    case 'validating':
      return validateAddress(run);
    case 'on_hold':
      return awaitAddress(run);
    case 'published':
      return awaitAssignment(run);
    case 'planned':
    case 'in_transit':
      return awaitOutcome(run);
    case 'delivered':
      return recordDelivered(run);
    case 'failed_attempt':
      return afterFailure(run);
    case 'returned':
    case 'returning':
    case 'billing':
    case 'awaiting_approval':
      await run.effects.flush();
      return bill(run);
  }
}

function resultOf({ s, shipmentId }: ShipmentRun): ShipmentResult {
  return {
    shipmentId,
    outcome: s.outcome ?? 'returned',
    attempts: s.attempt,
    billingDocumentId: s.billingDocumentId ?? '',
    total: Math.round(s.charges.reduce((sum, c) => sum + c.amount, 0) * 100) / 100,
    charges: s.charges,
    ...(s.pricingVersion ? { pricingVersion: s.pricingVersion } : {}),
    casesOpened: s.cases.length,
    milestones: s.milestones,
  };
}
