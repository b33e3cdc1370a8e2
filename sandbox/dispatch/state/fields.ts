import { TASK_STATE, type OnfleetAddress, type OnfleetMetadata, type OnfleetTask } from '../onfleet.js';
import { DispatchError } from './store.js';

/*
 * Helpers over Onfleet task fields: windows, completion details, addresses, metadata, skills.
 */

export function checkWindow(after: number | null, before: number | null): void {
  if (after !== null && before !== null && after >= before) {
    throw new DispatchError('invalidTime', 'completeBefore: must be later than completeAfter');
  }
}

export function emptyCompletion(): OnfleetTask['completionDetails'] {
  return {
    success: false,
    time: null,
    notes: '',
    failureReason: 'NONE',
    failureNotes: '',
    events: [],
    actions: [],
    firstLocation: [],
    lastLocation: [],
    unavailableAttachments: [],
  };
}

export function address(a: {
  number?: string | undefined;
  street?: string | undefined;
  apartment?: string | undefined;
  city?: string | undefined;
  state?: string | undefined;
  postalCode?: string | undefined;
  country?: string | undefined;
  name?: string | undefined;
  unparsed?: string | undefined;
}): OnfleetAddress {
  return {
    number: a.number ?? '',
    street: a.street ?? '',
    apartment: a.apartment ?? '',
    city: a.city ?? '',
    state: a.state ?? '',
    postalCode: a.postalCode ?? '',
    country: a.country ?? 'United States',
    ...(a.name === undefined ? {} : { name: a.name }),
    ...(a.unparsed === undefined ? {} : { unparsed: a.unparsed }),
  };
}

export function normaliseMetadata(m: {
  name: string;
  type: OnfleetMetadata['type'];
  value?: unknown;
  visibility?: OnfleetMetadata['visibility'] | undefined;
}): OnfleetMetadata {
  return { name: m.name, type: m.type, value: m.value, visibility: m.visibility ?? ['api'] };
}

export function upsertMetadata(task: OnfleetTask, entry: OnfleetMetadata): void {
  const index = task.metadata.findIndex((m) => m.name === entry.name);
  if (index >= 0) task.metadata[index] = entry;
  else task.metadata.push(entry);
}

/** The value of a metadata entry, or undefined. */
export function metadataValue(task: OnfleetTask, name: string): unknown {
  return task.metadata.find((m) => m.name === name)?.value;
}

/** Vehicle skills a task needs, from its liftgate / hazmat metadata. */
export function skillsOf(task: OnfleetTask): string[] {
  const skills: string[] = [];
  if (metadataValue(task, 'liftgate') === true && task.state !== TASK_STATE.completed)
    skills.push('liftgate');
  if (metadataValue(task, 'hazmat') === true) skills.push('hazmat');
  return skills;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export function hashDate(date: string): number {
  let h = 0;
  for (let i = 0; i < date.length; i++) h = (Math.imul(h, 31) + date.charCodeAt(i)) | 0;
  return h;
}
