import type { ExceptionKind } from './model.js';

/**
 * Exception kinds whose open cases have a resolution SLA (a missing POD has the SLA of its wait instead; an
 * `sla_breached` case is itself the escalation). Outside `model.ts` so workflows take it without zod.
 */
export const CASE_SLA_KINDS = [
  'failed_attempt',
  'delay',
  'damage',
  'address_mismatch',
  'no_assignment',
] as const satisfies readonly ExceptionKind[];
/** An exception kind whose open cases have a resolution SLA. */
export type CaseSlaKind = (typeof CASE_SLA_KINDS)[number];
