import { describe, expect, it } from 'vitest';
import {
  CalendarDate,
  compareShipment,
  initialStatus,
  previousUtcDate,
  type ShipmentFacts,
} from '../../../src/domain/reconciliation.js';
import { dayShipmentsQuery } from '../../../src/activities/reconciliation.js';
import { taskViewOf } from '../../../src/integrations/dispatch/adapter.js';
import {
  billingFromOData,
  deliveriesFilter,
  milestoneFromOData,
} from '../../../src/integrations/erp/mappers.js';

const milestones = [
  { milestone: 'planned', attempt: 1, at: '2026-12-01T06:00:00Z', eta: '2026-12-01T10:00:00Z' },
  { milestone: 'dispatched', attempt: 1, at: '2026-12-01T08:00:00Z' },
  { milestone: 'delivered', attempt: 1, at: '2026-12-01T10:05:00Z' },
  { milestone: 'billed', attempt: 1, at: '2026-12-01T10:06:00Z' },
];

/** A delivered shipment on which every system agrees. */
function inStep(): ShipmentFacts {
  return {
    shipmentId: 'shipment-80000001',
    deliveryId: '80000001',
    workflow: {
      state: 'closed',
      outcome: 'delivered',
      attempts: 1,
      total: 95.5,
      billingDocumentId: '90000001',
      milestones,
    },
    erpMilestones: milestones.map((m) => ({ milestone: m.milestone, attempt: m.attempt })),
    erpBilling: [{ billingDocumentId: '90000001', total: 95.5 }],
    tasks: [{ taskId: 't1', attempt: 1, state: 'completed', success: true }],
    cases: [{ caseId: '7', status: 'open', noticeThread: true }],
  };
}

describe('compareShipment', () => {
  it('when every system agrees then there is no mismatch (an open notice thread is not a case)', () => {
    expect(compareShipment(inStep())).toEqual([]);
  });

  it.each<[string, (f: ShipmentFacts) => void, string, boolean]>([
    ['a milestone missing in the ERP', (f) => f.erpMilestones.splice(2, 1), 'erp_milestone_missing', true],
    [
      'an extra milestone in the ERP',
      (f) => f.erpMilestones.push({ milestone: 'returned', attempt: 1 }),
      'erp_milestone_unexpected',
      false,
    ],
    ['no billing request', (f) => (f.erpBilling = []), 'erp_billing_missing', false],
    [
      'two billing requests',
      (f) => f.erpBilling.push({ billingDocumentId: '90000002', total: 95.5 }),
      'erp_billing_duplicate',
      false,
    ],
    ['another billed amount', (f) => (f.erpBilling[0]!.total = 90), 'erp_billing_amount', false],
    ['a failed final task', (f) => (f.tasks[0]!.success = false), 'dispatch_outcome', false],
    [
      'an open task for a later attempt',
      (f) => f.tasks.push({ taskId: 't2', attempt: 2, state: 'assigned' }),
      'dispatch_task_unexpected',
      false,
    ],
    [
      'an open case',
      (f) => f.cases.push({ caseId: '8', kind: 'delay', status: 'open', noticeThread: false }),
      'crm_case_open',
      true,
    ],
  ])('when there is %s then it reports %s (safe repair: %s)', (_label, plant, kind, safe) => {
    const facts = inStep();
    plant(facts);
    const found = compareShipment(facts);
    expect(found.map((m) => m.kind)).toEqual([kind]);
    expect(initialStatus(found[0]!)).toBe(safe ? 'suggested' : 'operator');
  });

  it('when the ERP lost one of two PLANNED announcements then the repair re-posts that one with its ETA', () => {
    const facts = inStep();
    const replanned = {
      milestone: 'planned',
      attempt: 1,
      at: '2026-12-01T07:00:00Z',
      eta: '2026-12-01T11:00:00Z',
    };
    if (facts.workflow.state === 'closed') facts.workflow.milestones.splice(1, 0, replanned);
    const [m] = compareShipment(facts);
    expect(m?.repair).toEqual({
      kind: 'post_milestone',
      deliveryId: '80000001',
      milestone: 'planned',
      attempt: 1,
      occurredAt: replanned.at,
      eta: replanned.eta,
    });
  });

  it('when failed attempts have no case then a missing case is reported for an operator', () => {
    const facts = inStep();
    if (facts.workflow.state === 'closed')
      facts.workflow.milestones.push({ milestone: 'failed_attempt', attempt: 1, at: 'x' });
    facts.erpMilestones.push({ milestone: 'failed_attempt', attempt: 1 });
    expect(compareShipment(facts).map((m) => m.kind)).toEqual(['crm_case_missing']);
  });

  it('when the shipment still runs then only its parked work is reported, and a run that failed is reported as such', () => {
    const running = inStep();
    running.workflow = {
      state: 'running',
      parked: [{ id: 'p1', kind: 'milestone', code: 'ERP_BUSINESS_REJECTED', message: 'no' }],
    };
    running.erpMilestones = [];
    expect(compareShipment(running)).toEqual([
      expect.objectContaining({ kind: 'parked_side_effect', systems: ['erp', 'shipsync'] }),
    ]);
    const failed = inStep();
    failed.workflow = { state: 'ended', status: 'TERMINATED' };
    expect(compareShipment(failed).map((m) => m.kind)).toEqual(['workflow_failed']);
    // A run whose workflow task keeps failing cannot answer its status query: reported, not fatal.
    const stuck = inStep();
    stuck.workflow = {
      state: 'running',
      parked: [],
      unreadable: 'Unable to query workflow due to Workflow Task in failed state.',
    };
    expect(compareShipment(stuck)).toEqual([
      expect.objectContaining({
        kind: 'workflow_failed',
        detail: expect.stringContaining('Workflow Task in failed state'),
      }),
    ]);
  });
});

describe('reconciliation helpers', () => {
  it.each([
    ['2026-12-01', true],
    ['2026-02-30', false],
    ['2026-13-01', false],
    ['yesterday', false],
  ])('when the date is %s then it is a calendar date: %s', (value, ok) => {
    expect(CalendarDate.safeParse(value).success).toBe(ok);
  });

  it('when a nightly run starts then it reconciles the UTC day before', () => {
    expect(previousUtcDate(Date.parse('2026-12-02T02:30:00Z'))).toBe('2026-12-01');
  });

  it('when a day and region are asked for then visibility is asked for that window on the own task queue', () => {
    expect(dayShipmentsQuery('2026-12-31', 'CHI', 'p-')).toBe(
      "WorkflowType = 'ShipmentWorkflow' AND TaskQueue = 'p-shipments' AND DeliveryDate >= '2026-12-31T00:00:00Z' AND DeliveryDate < '2027-01-01T00:00:00Z' AND Region = 'CHI'",
    );
  });

  it('when the ERP and dispatch answer then their rows map to port terms', () => {
    expect(deliveriesFilter('DeliveryDocument', ['1', "O'2"])).toBe(
      "DeliveryDocument eq '1' or DeliveryDocument eq 'O''2'",
    );
    expect(
      milestoneFromOData({
        DeliveryDocument: '0080000001',
        MilestoneCode: 'FAILED_ATTEMPT',
        AttemptNumber: 2,
        OccurredAt: '/Date(1764583200000+0000)/',
      }),
    ).toEqual({
      deliveryId: '80000001',
      milestone: 'failed_attempt',
      attempt: 2,
      occurredAt: '2025-12-01T10:00:00Z',
    });
    expect(
      billingFromOData({
        BillingDocumentRequest: '90000001',
        ReferenceDocument: '80000001',
        TotalNetAmount: '95.50',
        TransactionCurrency: 'USD',
      }),
    ).toEqual({ deliveryId: '80000001', billingDocumentId: '90000001', total: 95.5, currency: 'USD' });
    expect(
      taskViewOf({
        id: 't1',
        state: 3,
        completionDetails: { success: true },
        metadata: [
          { name: 'shipmentId', value: 'shipment-1' },
          { name: 'attempt', value: 2 },
        ],
      }),
    ).toEqual({ taskId: 't1', state: 'completed', success: true, shipmentId: 'shipment-1', attempt: 2 });
  });
});
