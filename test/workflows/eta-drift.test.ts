import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import axios from 'axios';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dispatchEventSignal, rescheduleUpdate } from '../../src/workflows/shipment/contract.js';
import { crmNotices, ticketComments } from '../support/inspect.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function signal(s: Stack, workflowId: string, type: Parameters<Stack['event']>[1], data = {}) {
  await s.client.workflow
    .getHandle(workflowId)
    .signal(dispatchEventSignal, await s.event(workflowId, type, data));
}

/** The PLANNED milestones the ERP sandbox holds for a delivery, with the ETA (commit date) each carried. */
async function plannedEtas(erpUrl: string, deliveryId: string): Promise<string[]> {
  const res = await axios.get<{ milestones: { milestone: string; plannedEta: string | null }[] }>(
    `${erpUrl}/__sandbox/deliveries/${deliveryId}/milestones`,
  );
  return res.data.milestones
    .filter((m) => m.milestone === 'PLANNED')
    .map((m) => new Date(odataInstant(m.plannedEta)).toISOString());
}

/** An OData V2 `/Date(ms+0000)/` value (or an ISO string) as epoch milliseconds. */
function odataInstant(v: string | null): number {
  const m = /\/Date\((-?\d+)/.exec(v ?? '');
  return m ? Number(m[1]) : Date.parse(v ?? '');
}

const drifted = (body: string) =>
  /estimated arrival of your delivery moved|is running late: estimated/.test(body);

describe('ETA drift and answers on CRM tickets', () => {
  it('when the ETA drifts past the threshold several times then ERP gets one revised plan and the customer one notice per crossing, and crossing the window end is one more', async () => {
    stack = await startStack({ settings: { etaDriftMinutes: 30 } });
    const { order, workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
    // The window is 07:00-09:00; the assignment announces 07:30.
    await signal(stack, workflowId, 'route.assigned.v1');
    await signal(stack, workflowId, 'stop.started.v1');
    const at = (hhmm: string) => `2026-12-01T${hhmm}:00.000Z`;
    // Three updates past the threshold: one crossing.
    for (const eta of ['08:15', '08:20', '08:25'])
      await signal(stack, workflowId, 'stop.eta.v1', { eta: at(eta) });
    await stack.waitFor(
      workflowId,
      (st) => st.milestones.filter((m) => m.milestone === 'planned').length === 2,
    );
    // Back under the threshold, then past it again: another crossing.
    await signal(stack, workflowId, 'stop.eta.v1', { eta: at('07:40') });
    await signal(stack, workflowId, 'stop.eta.v1', { eta: at('08:10') });
    // Past the window end: a crossing of its own; a later update past it is not.
    await signal(stack, workflowId, 'stop.eta.v1', { eta: at('09:20') });
    await signal(stack, workflowId, 'stop.eta.v1', { eta: at('09:25') });
    await signal(stack, workflowId, 'stop.arrived.v1');
    await signal(stack, workflowId, 'delivery.completed.v1');
    expect((await handle.result()).outcome).toBe('delivered');

    expect(await plannedEtas(stack.erp.url, order.deliveryId)).toEqual([
      at('07:30'),
      at('08:15'),
      at('08:10'),
      at('09:20'),
    ]);
    const notices = (await crmNotices(stack.crm.url, workflowId)).filter((n) => drifted(n.body));
    expect(notices.map((n) => n.body)).toEqual([
      expect.stringContaining(`moved to ${at('08:15')}`),
      expect.stringContaining(`moved to ${at('08:10')}`),
      expect.stringContaining(`running late: estimated arrival ${at('09:20')}`),
    ]);
  });

  it('when a reschedule asked for on a CRM ticket is refused then the ticket gets a public reply with the reason, once', async () => {
    stack = await startStack();
    const { workflowId, handle } = await stack.start();
    await stack.waitFor(workflowId, (st) => st.phase === 'published' && !!st.taskId);
    await signal(stack, workflowId, 'route.assigned.v1');
    await signal(stack, workflowId, 'stop.started.v1');
    await stack.waitFor(workflowId, (st) => st.phase === 'in_transit');
    // The customer answers the plan notice on its ticket, asking for another slot.
    const ticketId = await vi.waitFor(async () => {
      const [notice] = (await crmNotices(stack!.crm.url, workflowId)) as { ticketId?: number }[];
      if (!notice?.ticketId) throw new Error('no plan notice yet');
      return notice.ticketId;
    });
    const request = {
      window: { start: '2026-12-02T14:00:00.000Z', end: '2026-12-02T16:00:00.000Z' },
      reason: 'requested in the CRM',
      requestedBy: 'customer',
      ticketId: String(ticketId),
    };
    const refused = async () => {
      try {
        await handle.executeUpdate(rescheduleUpdate, { args: [request], updateId: 'inbox:zendesk-ev-1' });
        return undefined;
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure)
          return err.cause.type;
        throw err;
      }
    };
    expect(await refused()).toBe('RESCHEDULE_TOO_LATE');
    // The same request delivered again (a redelivered webhook) is not answered twice.
    expect(await refused()).toBe('RESCHEDULE_TOO_LATE');
    const replies = (await ticketComments(stack.crm.url, ticketId)).filter((c) =>
      c.body.includes('We could not move delivery'),
    );
    expect(replies).toEqual([
      expect.objectContaining({
        public: true,
        body: expect.stringMatching(/already on its way.*RESCHEDULE_TOO_LATE/),
      }),
    ]);
    const status = await stack.waitFor(workflowId, () => true);
    expect(status.window.start).not.toBe(request.window.start);
    await signal(stack, workflowId, 'delivery.completed.v1');
    expect((await handle.result()).outcome).toBe('delivered');
  });
});
