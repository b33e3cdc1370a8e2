import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CalendarDate, Mismatch, ReconciliationReport } from '../domain/reconciliation.js';
import type { Store } from '../storage/store.js';
import { AUDIT_ROLES, type Principals } from './auth.js';
import { GatewayError } from './errors.js';
import { errorResponses } from './schemas.js';

const Counts = z.object({
  suggested: z.number().int().describe('safe repairs not carried out yet (run with --repair)'),
  repaired: z.number().int(),
  repair_failed: z.number().int(),
  operator: z.number().int().describe('mismatches left for an operator'),
  total: z.number().int(),
});

const ReportSummary = ReconciliationReport.omit({ mismatches: true })
  .extend({ counts: Counts })
  .meta({ id: 'ReconciliationReportSummary' });

const ReportList = z.object({ reports: z.array(ReportSummary) });

const ReportView = ReconciliationReport.extend({ mismatches: z.array(Mismatch) }).meta({
  id: 'ReconciliationReport',
});

const ReportListQuery = z.strictObject({
  date: CalendarDate.optional().describe('the reconciled delivery date'),
  region: z
    .string()
    .regex(/^[A-Z]{2,5}$/, 'expected a region code such as CHI')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const ReportParams = z.object({
  id: z.string().regex(/^[A-Za-z0-9:._-]{1,200}$/, 'expected a report id (the reconciliation workflow id)'),
});

/**
 * The reconciliation reports for auditors and admins: `GET /v1/reconciliation/reports` (newest first, by day
 * and region) and `GET /v1/reconciliation/reports/{id}` (every mismatch with its suggested repair and status).
 */
export function registerReconciliationRoutes(
  fastify: FastifyInstance,
  d: { store: Store; principals: Principals; onUnknownToken?: () => void },
) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const security = [{ bearer: [] }];

  app.get(
    '/v1/reconciliation/reports',
    {
      onRequest: d.principals.require(AUDIT_ROLES, d.onUnknownToken),
      schema: {
        summary: 'Reconciliation reports, newest first, with their mismatch counts',
        description: 'Allowed roles: auditor, admin. Filter by reconciled date and region.',
        tags: ['reconciliation'],
        security,
        querystring: ReportListQuery,
        response: { 200: ReportList, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const { date, region, limit } = req.query;
      const reports = await d.store.reconciliation.list({
        limit,
        ...(date ? { date } : {}),
        ...(region ? { region } : {}),
      });
      return reply.send({ reports });
    },
  );

  app.get(
    '/v1/reconciliation/reports/:id',
    {
      onRequest: d.principals.require(AUDIT_ROLES, d.onUnknownToken),
      schema: {
        summary: 'One reconciliation report: every mismatch, the systems involved, the suggested repair',
        description: 'Allowed roles: auditor, admin.',
        tags: ['reconciliation'],
        security,
        params: ReportParams,
        response: { 200: ReportView, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => {
      const report = await d.store.reconciliation.get(req.params.id);
      if (!report)
        throw new GatewayError(
          'RECONCILIATION_REPORT_NOT_FOUND',
          `no reconciliation report ${req.params.id}`,
          {
            field: 'params.id',
          },
        );
      return reply.send(report);
    },
  );
}
