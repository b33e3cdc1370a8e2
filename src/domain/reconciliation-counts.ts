import type { Mismatch, RepairStatus } from './reconciliation.js';

/* What the reconciliation workflow computes itself, apart from the schemas of `reconciliation.ts`: workflows take it without zod. */

/** Counts of a report's mismatches by where they stand. */
export function reportCounts(mismatches: Mismatch[]): Record<RepairStatus, number> & { total: number } {
  const counts = { suggested: 0, repaired: 0, repair_failed: 0, operator: 0, total: mismatches.length };
  for (const m of mismatches) counts[m.status]++;
  return counts;
}

/** The day before an instant's UTC day, `YYYY-MM-DD`: what a nightly run reconciles. */
export function previousUtcDate(nowMs: number): string {
  return new Date(nowMs - 86_400_000).toISOString().slice(0, 10);
}
