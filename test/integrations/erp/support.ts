import axios from 'axios';
import { Writable } from 'node:stream';
import type { Effect } from '../../../sandbox/common/effects.js';
import { DELIVERY_SERVICE_PATH } from '../../../sandbox/erp/server.js';

/** A raw OData client session: the CSRF token and cookie a GET with `X-CSRF-Token: Fetch` returned. */
export async function csrfSession(baseUrl: string): Promise<{ token: string; cookie: string }> {
  const res = await axios.get(`${baseUrl}${DELIVERY_SERVICE_PATH}`, { headers: { 'x-csrf-token': 'Fetch' } });
  const cookie = (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  return { token: String(res.headers['x-csrf-token']), cookie };
}

/** Effects the sandbox recorded, filtered by kind and entity. */
export async function effectsOf(baseUrl: string, kind: string, entityId: string): Promise<Effect[]> {
  const res = await axios.get<{ effects: Effect[] }>(`${baseUrl}/__sandbox/effects`, {
    params: { kind, entityId },
  });
  return res.data.effects;
}

/** A log destination that keeps every JSON line, for asserting what the adapter logged. */
export function logSink(): { stream: Writable; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { stream, lines };
}
