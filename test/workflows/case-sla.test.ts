import axios from 'axios';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CASE_SLA_KINDS } from '../../src/domain/model.js';
import {
  dispatchEventSignal,
  resolveExceptionUpdate,
  type ShipmentStatus,
} from '../../src/workflows/shipment/contract.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function drive(s: Stack, workflowId: string, events: [Parameters<Stack['event']>[1], object?][]) {
  const handle = s.client.workflow.getHandle(workflowId);
  for (const [type, data] of events)
    await handle.signal(dispatchEventSignal, await s.event(workflowId, type, { ...data }));
}

/** The CRM sandbox's cases of a shipment, with their priority and subject. */
async function cases(crmUrl: string, shipmentId: string) {
  const res = await axios.get<{
    cases: { ticketId: number; kind: string | null; status: string; priority: string; subject: string }[];
  }>(`${crmUrl}/__sandbox/cases`, { params: { external_id: shipmentId } });
  return res.data.cases;
}

const breach = (st: ShipmentStatus, kind: string) => st.slaBreaches?.find((b) => b.kind === kind);

describe('resolution SLAs of open cases', () => {
  it('when a case of any kind stays open past its SLA then its priority is raised and the team told, and past the second limit it is closed by its default', async () => {
    const sla = { escalate: 30, default: 300 };
    stack = await startStack({
      scale: 3600,
      settings: {
        caseSlaMinutes: Object.fromEntries(CASE_SLA_KINDS.map((k) => [k, sla])),
        // The damaged goods' return waits for finance, so its case is still open when its SLA passes.
        approvalThreshold: 0,
        addressHoldMinutes: 5000,
      },
    });
    const s = stack;
    const published = (st: ShipmentStatus) => st.phase === 'published' && !!st.taskId;
    const badZip = {
      street: '233 S Wacker Dr',
      city: 'Chicago',
      state: 'IL' as const,
      postalCode: '30301',
      country: 'US' as const,
    };
    const mismatch = (await s.start({ address: badZip })).workflowId;
    const failed = (await s.start()).workflowId;
    const late = (await s.start()).workflowId;
    const damaged = (await s.start()).workflowId;
    const unassigned = (await s.start()).workflowId;
    const answered = (await s.start()).workflowId;
    for (const id of [failed, late, damaged, answered]) await s.waitFor(id, published);
    await drive(s, failed, [
      ['route.assigned.v1'],
      ['stop.started.v1'],
      ['delivery.failed.v1', { reason: 'recipient_absent' }],
    ]);
    await drive(s, late, [
      ['route.assigned.v1'],
      ['stop.started.v1'],
      ['delivery.delayed.v1', { delaySeconds: 3 * 3600 }],
    ]);
    await drive(s, answered, [
      ['route.assigned.v1'],
      ['stop.started.v1'],
      ['delivery.delayed.v1', { delaySeconds: 3 * 3600 }],
    ]);
    await drive(s, damaged, [
      ['route.assigned.v1'],
      ['stop.started.v1'],
      ['delivery.failed.v1', { reason: 'damaged' }],
    ]);

    // Escalation: the shipment shows sla_breached while the breach is open.
    const escalated = await s.waitFor(mismatch, (st) => breach(st, 'address_mismatch')?.open === true);
    expect(escalated.phase).toBe('on_hold');
    await expect
      .poll(
        async () => (await s.client.workflow.getHandle(mismatch).describe()).searchAttributes.OpenException,
        { timeout: 4000 },
      )
      .toEqual(['sla_breached']);

    // An agent resolves an escalated case before its default: the breach ends as resolved.
    await s.waitFor(answered, (st) => breach(st, 'delay')?.open === true);
    await s.client.workflow
      .getHandle(answered)
      .executeUpdate(resolveExceptionUpdate, { args: [{ kind: 'delay', resolution: 'Customer called.' }] });
    const resolved = await s.waitFor(answered, (st) => breach(st, 'delay')?.open === false);
    expect(breach(resolved, 'delay')).toMatchObject({ ended: 'resolved' });
    await expect
      .poll(async () =>
        (await cases(s.crm.url, answered))
          .filter((c) => c.kind === 'delay' || c.kind === 'sla_breached')
          .map((c) => [c.kind, c.status]),
      )
      .toEqual([
        ['delay', 'solved'],
        ['sla_breached', 'solved'],
      ]);

    const shipments: [string, string][] = [
      [mismatch, 'address_mismatch'],
      [failed, 'failed_attempt'],
      [late, 'delay'],
      [damaged, 'damage'],
      [unassigned, 'no_assignment'],
    ];
    for (const [workflowId, kind] of shipments) {
      const st = await s.waitFor(workflowId, (x) => breach(x, kind)?.ended === 'default', 60_000);
      expect(breach(st, kind)).toMatchObject({ round: 1, open: false, ended: 'default' });
      // The team's escalation case closes right after the breach ends: wait for the CRM to show it.
      await vi.waitFor(async () => {
        const crm = await cases(s.crm.url, workflowId);
        const own = crm.find((c) => c.kind === kind);
        // Escalated (priority raised), then closed by the default.
        expect(own, kind).toMatchObject({ status: 'solved', priority: 'urgent' });
        const team = crm.filter(
          (c) => c.kind === 'sla_breached' && c.subject.includes(`case ${own?.ticketId}`),
        );
        expect(team, kind).toEqual([expect.objectContaining({ status: 'solved', priority: 'urgent' })]);
      });
      expect(st.openCases.some((c) => c.kind === kind)).toBe(false);
    }
  }, 120_000);
});
