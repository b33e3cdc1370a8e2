import { defineQuery } from '@temporalio/workflow';
import type { Mismatch, RepairStatus } from '../../domain/reconciliation.js';

/* The reconciliation workflow's query and result types without the input's schema (`contract.ts`). */

/** What a reconciliation run found and did (the full report is in the store, under `reportId`). */
export interface ReconciliationResult {
  reportId: string;
  date: string;
  region?: string;
  repair: boolean;
  checked: number;
  inFlight: number;
  counts: Record<RepairStatus, number> & { total: number };
  mismatches: Mismatch[];
}

/** Progress of a running reconciliation. */
export interface ReconciliationProgress {
  phase: 'comparing' | 'repairing' | 'done';
  pages: number;
  checked: number;
  mismatches: number;
  repaired: number;
}

/** How far a reconciliation has come. */
export const reconciliationProgressQuery = defineQuery<ReconciliationProgress>('progress');
