import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';

/** A task queue name no other test uses. */
export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}`;
}

/** An id no other test uses, e.g. an ERP delivery id. */
export function uniqueId(prefix = ''): string {
  return `${prefix}${Date.now().toString(36).toUpperCase()}${randomUUID().slice(0, 6).toUpperCase()}`;
}

/** Address of the run's Temporal dev server. */
export function temporalAddress(): string {
  return inject('temporalAddress');
}

/** A client connected to the run's Temporal dev server; close its connection when done. */
export async function connectClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return { client: new Client({ connection, namespace: 'default' }), connection };
}
