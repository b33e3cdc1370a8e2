import { describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';
import { connectClient } from '../support/temporal.js';

describe('test harness', () => {
  it('when the run starts then a real Temporal server answers with every shipsync search attribute', async () => {
    const { client, connection } = await connectClient();
    try {
      const res = await client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of Object.keys(SEARCH_ATTRIBUTES))
        expect(Object.keys(res.customAttributes ?? {})).toContain(name);
      const sys = await client.connection.workflowService.getSystemInfo({});
      expect(sys.serverVersion).toMatch(/^1\./);
    } finally {
      await connection.close();
    }
  });
});
