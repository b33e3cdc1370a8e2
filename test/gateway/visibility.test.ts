import { afterAll, describe, expect, it } from 'vitest';
import { listWorkflows, workflowStatusOf } from '../../src/gateway/temporal.js';
import { SA, shipmentsQuery } from '../../src/workflows/shipment/search-attributes.js';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;

afterAll(async () => {
  await stack?.close();
});

describe("the gateway's raw visibility reads", () => {
  it('when shipments run and one is terminated then the raw listing and describe give what the SDK client decodes', async () => {
    stack = await startStack();
    const a = await stack.start();
    const b = await stack.start();
    await stack.waitFor(a.workflowId, (s) => s.phase === 'published');
    await stack.waitFor(b.workflowId, (s) => s.phase === 'published');
    await stack.client.workflow.getHandle(b.workflowId).terminate('test: closed by hand');
    const query = shipmentsQuery(stack.prefix);
    const keywords = [SA.ShipmentStatus.name, SA.OpenException.name];

    // Visibility catches up with the upserts and the termination on its own time.
    const byClient = async () => {
      const out: Record<string, [string, string | undefined, string | undefined]> = {};
      for await (const wf of stack!.client.workflow.list({ query }))
        out[wf.workflowId] = [
          wf.status.name,
          wf.typedSearchAttributes.get(SA.ShipmentStatus),
          wf.typedSearchAttributes.get(SA.OpenException),
        ];
      return out;
    };
    await expect
      .poll(async () => (await byClient())[b.workflowId]?.[0], { timeout: 20_000 })
      .toBe('TERMINATED');
    await expect
      .poll(async () => (await byClient())[a.workflowId]?.[1], { timeout: 20_000 })
      .toBe('published');
    const raw: Record<string, [string, string | undefined, string | undefined]> = {};
    for await (const wf of listWorkflows(stack.client, query, keywords))
      raw[wf.workflowId] = [
        wf.status,
        wf.keywords[SA.ShipmentStatus.name],
        wf.keywords[SA.OpenException.name],
      ];
    expect(raw).toEqual(await byClient());
    expect(raw[a.workflowId]).toEqual(['RUNNING', 'published', 'none']);

    expect(await workflowStatusOf(stack.client, a.workflowId)).toBe('RUNNING');
    expect(await workflowStatusOf(stack.client, b.workflowId)).toBe('TERMINATED');
    await expect(workflowStatusOf(stack.client, `${a.workflowId}-missing`)).rejects.toMatchObject({
      code: 5,
    });
  }, 60_000);
});
