import { describe, expect, it, vi } from 'vitest';
import { dispatchDialect } from '../../../src/gateway/dialects.js';
import { loadConfig } from '../../../src/platform/config.js';
import { runChaosCli } from '../../../tools/chaos/args.js';
import {
  checkInvariants,
  matchDeadLetters,
  prefixProblem,
  type ChaosObservations,
  type DeadLetterRecord,
} from '../../../tools/chaos/invariants.js';
import {
  buildMalformedWebhooks,
  MALFORMED_EXPECTATION,
  type SentMalformed,
} from '../../../tools/chaos/malformed.js';
import { metricSum } from '../../../tools/chaos/report.js';
import type { Reconciliation } from '../../../tools/reconcile.js';
import type { ShipmentResult } from '../../../src/workflows/shipment/contract.js';

const config = loadConfig({ SHIPSYNC_ENV: 'sandbox' });
const secret = config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET ?? '';

function result(id: string, over: Partial<ShipmentResult> = {}): ShipmentResult {
  return {
    shipmentId: id,
    outcome: 'delivered',
    attempts: 1,
    billingDocumentId: `9${id.slice(-7)}`,
    total: 10,
    charges: [],
    casesOpened: 0,
    milestones: [],
    ...over,
  };
}

function cleanReconciliation(checked: number): Reconciliation {
  return {
    checked,
    mismatches: [],
    billingDocuments: checked,
    duplicateErpEffects: 0,
    duplicateCrmEffects: 0,
    duplicateDispatchEffects: 0,
    casesSolved: 0,
    casesByKind: {},
    notices: 0,
    dispatchTasks: checked,
    reports: [],
  };
}

/** Two shipments, one delivered at once and one after a failed attempt, and one malformed webhook of each kind. */
function cleanRun(): ChaosObservations {
  const ids = ['shipment-80000001', 'shipment-80000002'];
  const malformed: SentMalformed[] = [
    { kind: 'unknown-shipment', marker: 'chaosmark0007x001', eventId: 'onf-aaa', status: 200, sentAt: '' },
    {
      kind: 'schema-drift',
      marker: 'chaosmark0007x002',
      status: 400,
      code: 'EVENT_SCHEMA_INVALID',
      sentAt: '',
    },
    {
      kind: 'bad-signature',
      marker: 'chaosmark0007x003',
      status: 401,
      code: 'SIGNATURE_INVALID',
      sentAt: '',
    },
  ];
  const deadLetters: DeadLetterRecord[] = [
    {
      id: 1,
      stage: 'delivery',
      eventId: 'onf-aaa',
      shipmentId: 'shipment-CHAOS-7-01',
      code: 'EVENT_UNKNOWN_SHIPMENT',
      reason: 'no open shipment',
      payload: '{"data":{"taskId":"chaosmark0007x001"}}',
    },
    {
      id: 2,
      stage: 'intake',
      eventId: null,
      shipmentId: null,
      code: 'EVENT_SCHEMA_INVALID',
      reason: 'time: expected number',
      payload: '{"taskId":"chaosmark0007x002","time":"2026"}',
    },
  ];
  return {
    shipmentIds: ids,
    results: new Map([
      [ids[0]!, result(ids[0]!)],
      [ids[1]!, result(ids[1]!, { attempts: 2 })],
    ]),
    closedWithoutResult: new Map(),
    erpMilestones: new Map([
      [ids[0]!, ['PLANNED#1', 'DELIVERED#1', 'BILLED#1']],
      [ids[1]!, ['PLANNED#1', 'FAILED_ATTEMPT#1', 'PLANNED#2', 'DELIVERED#2', 'BILLED#2']],
    ]),
    billing: [
      { billingDocumentRequest: '90000001', deliveryId: '80000001' },
      { billingDocumentRequest: '90000002', deliveryId: '80000002' },
    ],
    crmCaseKinds: new Map([[ids[1]!, ['failed_attempt']]]),
    reconciliation: cleanReconciliation(2),
    deadLetters,
    malformed,
  };
}

const failing = (o: ChaosObservations) =>
  checkInvariants(o)
    .filter((i) => !i.pass)
    .map((i) => i.name);

describe('chaos invariants', () => {
  it('when nothing was lost or duplicated then all six invariants pass', () => {
    const invariants = checkInvariants(cleanRun());
    expect(invariants).toHaveLength(6);
    expect(invariants.filter((i) => !i.pass)).toEqual([]);
  });

  it('when a shipment is still open or failed then only the terminal invariant fails, naming it', () => {
    const o = cleanRun();
    o.results.delete('shipment-80000002');
    o.closedWithoutResult.set('shipment-80000002', 'TERMINATED');
    const bad = checkInvariants(o).find((i) => i.name === 'every shipment terminal');
    expect(bad?.pass).toBe(false);
    expect(bad?.detail).toContain('shipment-80000002 closed TERMINATED');
  });

  it('when the ERP holds two billing documents for one shipment then the billing invariant fails', () => {
    const o = cleanRun();
    o.billing.push({ billingDocumentRequest: '90000003', deliveryId: '80000001' });
    expect(failing(o)).toEqual(['ERP billing postings = billed shipments, none twice']);
  });

  it('when the ERP billed a document other than the one the workflow reported then the billing invariant fails', () => {
    const o = cleanRun();
    o.billing[0] = { billingDocumentRequest: '90009999', deliveryId: '80000001' };
    expect(failing(o)).toContain('ERP billing postings = billed shipments, none twice');
  });

  it('when a milestone is posted twice then the sequence invariant fails with the codes', () => {
    const o = cleanRun();
    o.erpMilestones.set('shipment-80000001', ['PLANNED#1', 'DELIVERED#1', 'DELIVERED#1', 'BILLED#1']);
    const bad = checkInvariants(o).find((i) => i.name === 'ERP milestone sequence valid per shipment');
    expect(bad?.pass).toBe(false);
    expect(bad?.detail).toContain('shipment-80000001');
  });

  it('when a failed attempt has no CRM case then the case invariant fails', () => {
    const o = cleanRun();
    o.crmCaseKinds.set('shipment-80000002', ['no_assignment']);
    expect(failing(o)).toEqual(['every failed attempt has a CRM case']);
  });

  it('when reconciliation reports a mismatch then the reconciliation invariant fails', () => {
    const o = cleanRun();
    o.reconciliation.mismatches.push('shipment-80000001: 2 dispatch tasks for 1 attempts');
    expect(failing(o)).toEqual(['reconciliation clean']);
  });

  it('when a dead letter is missing, unexpected or kept after a 401 then the dead-letter invariant fails', () => {
    for (const change of [
      (o: ChaosObservations) => o.deadLetters.splice(0, 1),
      (o: ChaosObservations) =>
        o.deadLetters.push({
          id: 9,
          stage: 'delivery',
          eventId: 'onf-zzz',
          shipmentId: 'shipment-80000001',
          code: 'EVENT_UNKNOWN_SHIPMENT',
          reason: 'closed',
          payload: '{}',
        }),
      (o: ChaosObservations) =>
        o.deadLetters.push({
          id: 9,
          stage: 'intake',
          eventId: null,
          shipmentId: null,
          code: 'EVENT_SCHEMA_INVALID',
          reason: 'x',
          payload: '"chaosmark0007x003"',
        }),
      (o: ChaosObservations) => (o.malformed[2]!.status = 200),
    ]) {
      const o = cleanRun();
      change(o);
      expect(failing(o)).toEqual(['dead letters = the malformed webhooks sent']);
    }
  });
});

describe('dead-letter matching', () => {
  it('when a letter carries the event id or the marker then it matches that webhook and no other', () => {
    const o = cleanRun();
    const m = matchDeadLetters(o.malformed, o.deadLetters);
    expect(m.expected.map((x) => x.marker)).toEqual(['chaosmark0007x001', 'chaosmark0007x002']);
    expect(m.missing).toEqual([]);
    expect(m.unexpected).toEqual([]);
    expect(m.keptRejected).toEqual([]);
  });
});

describe('malformed webhooks as the gateway reads them', () => {
  const dialect = dispatchDialect(config);
  const now = new Date();
  const batch = buildMalformedWebhooks({
    secret,
    seed: 7,
    first: 10,
    timeMs: Date.parse('2026-12-01T15:00:00Z'),
  });

  it('when a batch is built then it holds each kind, with distinct fixed-length markers', () => {
    expect(new Set(batch.map((m) => m.kind))).toEqual(new Set(Object.keys(MALFORMED_EXPECTATION)));
    expect(new Set(batch.map((m) => m.marker)).size).toBe(batch.length);
    expect(new Set(batch.map((m) => m.marker.length)).size).toBe(1);
    for (const m of batch) expect(m.body).toContain(m.marker);
  });

  it('when the gateway checks signatures then only the bad-signature and unsigned bodies fail', () => {
    for (const m of batch) {
      const auth = dialect.authenticate(m.headers, Buffer.from(m.body), now);
      expect(auth.ok, m.kind).toBe(MALFORMED_EXPECTATION[m.kind].status !== 401);
    }
  });

  it('when an unknown-shipment body is mapped then it is a dispatch event with the predicted id', () => {
    for (const m of batch.filter((x) => x.kind === 'unknown-shipment')) {
      const mapped = dialect.map(JSON.parse(m.body), now.toISOString());
      expect(mapped.kind).toBe('event');
      if (mapped.kind === 'event') {
        expect(mapped.event.id).toBe(m.eventId);
        expect(mapped.event.subject).toMatch(/^shipment-CHAOS-/);
      }
    }
  });

  it('when a schema-drift or invalid-JSON body is read then it cannot be mapped', () => {
    for (const m of batch.filter((x) => x.kind === 'schema-drift')) {
      expect(() => dialect.map(JSON.parse(m.body), now.toISOString()), m.marker).toThrow();
    }
    const invalid = batch.find((x) => x.kind === 'invalid-json');
    expect(() => JSON.parse(invalid!.body)).toThrow();
  });
});

describe('command line', () => {
  const quiet = () => {
    const lines: string[] = [];
    const spy = vi
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    return { lines: () => lines, restore: () => spy.mockRestore() };
  };

  it.each([['--shipments abc'], ['--scale 1'], ['--seed -3'], ['--nope'], ['stray']])(
    'when given %s then it exits 2 with one line and runs nothing',
    async (argv) => {
      let ran = false;
      const err = quiet();
      const code = await runChaosCli(argv.split(' '), async () => {
        ran = true;
        return 0;
      }).finally(err.restore);
      expect(code).toBe(2);
      expect(ran).toBe(false);
      expect(err.lines()).toHaveLength(1);
      expect(err.lines()[0]).toMatch(/^chaos: .+\n$/);
    },
  );

  it('when given valid options then the campaign runs with them and its code is returned', async () => {
    let seen: unknown;
    const code = await runChaosCli(
      ['--shipments', '12', '--seed', '3', '--scale', '1440', '--json'],
      async (o) => {
        seen = o;
        return 1;
      },
    );
    process.exitCode = undefined;
    expect(code).toBe(1);
    expect(seen).toMatchObject({ shipments: 12, seed: 3, scale: 1440, json: true });
  });
});

describe('metrics', () => {
  it('when counters carry several labels then the matching samples are summed', () => {
    const text = [
      'shipsync_gateway_events_total{source="dispatch",outcome="duplicate",code=""} 5',
      'shipsync_gateway_events_total{source="crm",outcome="duplicate",code=""} 7',
      'shipsync_gateway_events_total{source="dispatch",outcome="duplicate",code="X"} 2',
    ].join('\n');
    expect(
      metricSum(text, 'shipsync_gateway_events_total', { source: 'dispatch', outcome: 'duplicate' }),
    ).toBe(7);
  });
});

describe('shipments that never closed', () => {
  it('when a shipment is open then its milestones are checked as a beginning and the other invariants name only it', () => {
    const o = cleanRun();
    o.results.delete('shipment-80000002');
    o.billing.pop();
    o.erpMilestones.set('shipment-80000002', ['PLANNED#1']);
    o.stuck = new Map([
      ['shipment-80000002', 'workflow phase planned; dispatch task attempt 1 unassigned (no driver)'],
    ]);
    o.reconciliation.mismatches.push('shipment-80000002: not closed');
    const byName = new Map(checkInvariants(o).map((i) => [i.name, i]));
    expect(byName.get('every shipment terminal')?.detail).toContain(
      'shipment-80000002 still open (workflow phase planned',
    );
    expect(byName.get('ERP milestone sequence valid per shipment')?.pass).toBe(true);
    expect(byName.get('reconciliation clean')?.detail).toBe(
      '1 mismatch(es): 1 not closed (see the first invariant), 0 other',
    );
  });

  it.each([
    [['PLANNED#1', 'DISPATCHED#1'], undefined],
    [['PLANNED#1', 'PLANNED#1'], undefined],
    [['PLANNED#1', 'DISPATCHED#1', 'DISPATCHED#1'], 'repeats DISPATCHED#1'],
    [['DELIVERED#1', 'RETURNED#1'], 'has 2 DELIVERED/RETURNED milestones'],
    [['BILLED#1', 'PLANNED#2'], 'has milestones after BILLED'],
  ])('when an open shipment has %j then the problem is %s', (codes, problem) => {
    expect(prefixProblem(codes)).toBe(problem);
  });
});
