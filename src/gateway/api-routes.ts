import type { Client, UpdateDefinition } from '@temporalio/client';
import { QueryNotRegisteredError } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { ShipsyncError } from '../domain/errors.js';
import type { ForcedCompletion } from '../integrations/dispatch/adapter.js';
import type { Role } from '../platform/config.js';
import type { DeadLetter, Store } from '../storage/store.js';
import type {
  AddressCorrection,
  ApprovalResult,
  ChargeApproval,
  ExceptionResolution,
  OperatorActionResult,
  ParkedOutcome,
  RescheduleRequest,
} from '../workflows/shipment/contract.js';
import {
  approveChargesUpdate,
  cancelShipmentUpdate,
  correctAddressUpdate,
  forceReturnUpdate,
  recordPodUpdate,
  deliveryIdOf,
  editAndRetryUpdate,
  resolveExceptionUpdate,
  rescheduleUpdate,
  retryParkedUpdate,
  skipParkedUpdate,
  statusQuery,
  UPDATE_ROLES,
} from '../workflows/shipment/contract.js';
import { SA } from '../workflows/shipment/search-attributes.js';
import { ADMIN_ROLES, AUDIT_ROLES, READ_ROLES, type Principal, type Principals } from './auth.js';
import type { WebhookDialect } from './dialects.js';
import { GatewayError, toErrorResponse } from './errors.js';
import { parseIdempotencyKey, respondIdempotently, type ApiResponse } from './idempotency.js';
import type { Intake } from './intake.js';
import {
  AddressBody,
  AddressResponse,
  ApprovalBody,
  ApprovalResponse,
  AuditList,
  AuditListQuery,
  DeadLetterList,
  DeadLetterListQuery,
  DeadLetterParams,
  DeadLetterView,
  errorResponses,
  ForceCompleteBody,
  ForceCompleteResponse,
  IdempotencyHeaders,
  ListQuery,
  ListResponse,
  ManualPodBody,
  OperatorActionResponse,
  OperatorDecisionBody,
  ParkedEditBody,
  ParkedResponse,
  ParkedRetryBody,
  ParkedSkipBody,
  PRINCIPAL_FIELDS,
  ReplayResponse,
  RescheduleBody,
  RescheduleResponse,
  ResolutionBody,
  ResolutionResponse,
  ShipmentParams,
  StatusResponse,
} from './schemas.js';
import {
  describeProbe,
  normalizeShipmentId,
  systemProbe,
  toApiError,
  withTemporalDeadline,
} from './temporal.js';

/** What the API routes need. */
export interface ApiDeps {
  client: Client;
  store: Store;
  principals: Principals;
  /** Counts requests refused for a missing or unknown token. */
  onUnknownToken: () => void;
  intake: Intake;
  dialects: Record<DeadLetter['source'], WebhookDialect>;
  now: () => Date;
  /** How long an update may take (it may wait for an activity, such as dispatch re-planning). */
  updateTimeoutMs: number;
  /** How long a query or list may take. */
  queryTimeoutMs: number;
  /**
   * Dispatch's force completion (Onfleet's `POST /tasks/{id}/complete`) on the configured URL and key;
   * without it the force-complete route answers 503 DISPATCH_UNAVAILABLE.
   */
  dispatch?: { completeTask(taskId: string, outcome: ForcedCompletion): Promise<void> };
}

/** The roles that may complete a shipment's dispatch task by hand, as a dispatcher does in Onfleet. */
export const FORCE_COMPLETE_ROLES: readonly Role[] = ['dispatcher', 'admin'];

/** The phases in which a shipment's current dispatch task exists and has no outcome yet. */
const TASK_UNDER_WAY: readonly string[] = ['published', 'planned', 'in_transit'];

/** The workflow id behind a validated `{id}` parameter. */
function workflowIdOf(id: string): string {
  const wf = normalizeShipmentId(id);
  if (!wf) throw new GatewayError('VALIDATION_FAILED', 'invalid shipment id', { field: 'params.id' });
  return wf;
}

/** The authenticated principal of a request that passed its route's auth hook. */
function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new GatewayError('UNAUTHENTICATED', 'send Authorization: Bearer <token>');
  return req.principal;
}

/**
 * An Idempotency-Key belongs to the principal that sent it: another principal's request with the same key is
 * a request of its own (a second finance approval must not be answered with the first one's response).
 * Principal ids have neither `:` nor spaces, so the scoped key is unambiguous.
 */
function scopedKey(principal: Principal, key: string): string {
  return `${principal.id}:${key}`;
}

/** Refuses a body that names who acts: the server sets that from the principal. */
async function refusePrincipalFields(req: FastifyRequest) {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  for (const field of PRINCIPAL_FIELDS) {
    if (Object.hasOwn(body, field))
      throw new GatewayError(
        'VALIDATION_FAILED',
        `${field} is set by the server from the authenticated principal; remove it from the body`,
        { field },
      );
  }
}

/** Opaque cursor of the audit listing: the id the next page starts below. */
export function auditCursor(id: number): string {
  return Buffer.from(`a:${id}`).toString('base64url');
}

function auditCursorId(cursor: string): number {
  const m = /^a:([1-9]\d{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m) throw new GatewayError('VALIDATION_FAILED', 'unknown cursor', { field: 'querystring.cursor' });
  return Number(m[1]);
}

/** Sends an API response, flagging one replayed from the idempotency store. */
function send(reply: FastifyReply, res: ApiResponse & { replayed?: boolean }) {
  if (res.replayed) reply.header('idempotent-replayed', 'true');
  return reply.status(res.status).send(res.body);
}

/**
 * Turns an error from Temporal into a storable API response; rethrows what is not an API error. A 503
 * (Temporal or its workers unavailable) is thrown rather than returned, so it carries its Retry-After and
 * is not stored under the Idempotency-Key: a retry can still succeed.
 */
async function asResponse(
  err: unknown,
  shipmentId: string,
  probe: () => Promise<unknown>,
): Promise<ApiResponse> {
  const api = await toApiError(err, shipmentId, probe);
  if (!api) {
    // A refusal of the gateway's own or a vendor's (4xx) is the call's answer; anything else is not stored.
    const own =
      err instanceof GatewayError || err instanceof ShipsyncError ? toErrorResponse(err) : undefined;
    if (own && own.status < 500) return { status: own.status, body: own.body };
    throw err;
  }
  if (api.status >= 500) throw api;
  return { status: api.status, body: api.body() };
}

function summaryOf(letter: DeadLetter, full: boolean) {
  const { payload, headers, ...rest } = letter;
  return full ? { ...rest, payload, headers } : rest;
}

/** Registers the synchronous API under /v1: shipment updates, status and list, dead letters. */
export function registerApiRoutes(root: FastifyInstance, d: ApiDeps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const security = [{ bearer: [] }];

  /** The run of an operator update whose argument is the body plus `by`, the authenticated principal. */
  function byPrincipal<A extends { by: string }, R>(update: UpdateDefinition<R, [A]>) {
    return (wf: string, body: Omit<A, 'by'>, principal: Principal, updateId: string) => {
      const args: [A] = [{ ...body, by: principal.id } as A];
      return d.client.workflow.getHandle(wf).executeUpdate(update, { args, updateId });
    };
  }

  /** Registers one POST that runs a shipment update under an Idempotency-Key, as the request's principal. */
  function updateRoute<B, R>(opts: {
    path: string;
    summary: string;
    action: string;
    roles: readonly Role[];
    body: z.ZodType<B>;
    response: z.ZodType<R>;
    run: (workflowId: string, body: B, principal: Principal, updateId: string) => Promise<R>;
    rejections: number[];
    detail?: (body: B | undefined, response: unknown) => Record<string, unknown>;
  }) {
    // The plain instance: these handlers read params and body through the update's own schema types.
    root.post(
      opts.path,
      {
        onRequest: d.principals.require(opts.roles, d.onUnknownToken),
        preValidation: refusePrincipalFields,
        config: {
          audit: {
            action: opts.action,
            ...(opts.detail
              ? { detail: (req, response) => opts.detail?.(req.body as B | undefined, response) }
              : {}),
          },
        },
        schema: {
          summary: opts.summary,
          description: `Allowed roles: ${opts.roles.join(', ')}. Who acted is the bearer token's principal; a body naming ${PRINCIPAL_FIELDS.join(', ')} is refused with 400. Every call is written to the audit trail.`,
          tags: ['shipments'],
          security,
          params: ShipmentParams,
          headers: IdempotencyHeaders,
          body: opts.body,
          response: {
            200: opts.response,
            ...errorResponses(400, 401, 403, 404, ...opts.rejections, 429, 503),
          },
        },
      },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const principal = principalOf(req);
        const { id } = req.params as { id: string };
        const workflowId = workflowIdOf(id);
        const key = parseIdempotencyKey(req.headers['idempotency-key']);
        const res = await respondIdempotently(
          d.store,
          {
            key: scopedKey(principal, key),
            route: `POST ${opts.path.replace(':id', workflowId)}`,
            body: req.body,
            now: d.now(),
          },
          async (k) => {
            try {
              const result = await withTemporalDeadline(
                d.client,
                () => opts.run(workflowId, req.body as B, principal, `api:${k}`),
                d.updateTimeoutMs,
              );
              return { status: 200, body: result };
            } catch (err) {
              return asResponse(err, workflowId, describeProbe(d.client, workflowId));
            }
          },
        );
        return send(reply, res);
      },
    );
  }

  updateRoute({
    path: '/v1/shipments/:id/reschedule',
    summary: 'Move the delivery window; dispatch re-plans and the new ETA is returned',
    action: 'shipment.reschedule',
    roles: UPDATE_ROLES.reschedule,
    body: RescheduleBody,
    response: RescheduleResponse,
    rejections: [409, 422],
    run: (wf, body, principal, updateId) => {
      const request: RescheduleRequest = { ...body, requestedBy: principal.id };
      return d.client.workflow.getHandle(wf).executeUpdate(rescheduleUpdate, { args: [request], updateId });
    },
  });
  updateRoute({
    path: '/v1/shipments/:id/address',
    summary: 'Supply a corrected delivery address',
    action: 'shipment.correct_address',
    roles: UPDATE_ROLES.correctAddress,
    body: AddressBody,
    response: AddressResponse,
    rejections: [409, 422],
    run: (wf, body, principal, updateId) => {
      const correction: AddressCorrection = { address: body.address, correctedBy: principal.id };
      return d.client.workflow
        .getHandle(wf)
        .executeUpdate(correctAddressUpdate, { args: [correction], updateId });
    },
  });
  updateRoute({
    path: '/v1/shipments/:id/charges/approval',
    summary:
      'Approve or reject charges waiting for finance; above the four-eyes threshold a second, different finance principal completes the approval',
    action: 'charges.approve',
    roles: UPDATE_ROLES.approveCharges,
    body: ApprovalBody,
    response: ApprovalResponse,
    rejections: [409, 422],
    run: (wf, body, principal, updateId) => {
      const decision: ChargeApproval = { approve: body.approve, approvedBy: principal.id };
      return d.client.workflow
        .getHandle(wf)
        .executeUpdate(approveChargesUpdate, { args: [decision], updateId });
    },
    detail: (body, response) => {
      const r = response as Partial<ApprovalResult> | undefined;
      return {
        approve: body?.approve ?? true,
        ...(r?.status ? { status: r.status } : {}),
        ...(r?.approvals ? { approvers: r.approvals.map((a) => `${a.principal}:${a.decision}`) } : {}),
        ...(r?.approvalsRequired ? { approvalsRequired: r.approvalsRequired } : {}),
      };
    },
  });
  updateRoute({
    path: '/v1/shipments/:id/exceptions/resolve',
    summary: "Close an open exception's case by hand",
    action: 'shipment.resolve_exception',
    roles: UPDATE_ROLES.resolveException,
    body: ResolutionBody,
    response: ResolutionResponse,
    rejections: [409, 422],
    run: (wf, body, _principal, updateId) => {
      const resolution: ExceptionResolution = body;
      return d.client.workflow
        .getHandle(wf)
        .executeUpdate(resolveExceptionUpdate, { args: [resolution], updateId });
    },
    detail: (body) => (body?.kind ? { kind: body.kind } : {}),
  });

  const parkedDetail = (body: { parkedId?: string } | undefined, response: unknown) => ({
    ...(body?.parkedId ? { parkedId: body.parkedId } : {}),
    ...((response as Partial<ParkedOutcome> | undefined)?.outcome
      ? { outcome: (response as ParkedOutcome).outcome }
      : {}),
  });
  updateRoute({
    path: '/v1/shipments/:id/parked/retry',
    summary: 'Send a parked side effect again as it is, after its data was fixed at the vendor',
    action: 'parked.retry',
    roles: UPDATE_ROLES.retryParked,
    body: ParkedRetryBody,
    response: ParkedResponse,
    rejections: [409, 422],
    run: byPrincipal(retryParkedUpdate),
    detail: parkedDetail,
  });
  updateRoute({
    path: '/v1/shipments/:id/parked/edit',
    summary: "Change a parked side effect's editable fields and send it again",
    action: 'parked.edit_and_retry',
    roles: UPDATE_ROLES.editAndRetry,
    body: ParkedEditBody,
    response: ParkedResponse,
    rejections: [409, 422],
    run: byPrincipal(editAndRetryUpdate),
    detail: (body, response) => ({
      ...parkedDetail(body, response),
      fields: Object.keys(body?.edits ?? {}),
    }),
  });
  updateRoute({
    path: '/v1/shipments/:id/parked/skip',
    summary: 'Drop a parked side effect for good, with a reason (a skipped billing post closes unbilled)',
    action: 'parked.skip',
    roles: UPDATE_ROLES.skipParked,
    body: ParkedSkipBody,
    response: ParkedResponse,
    rejections: [409, 422],
    run: byPrincipal(skipParkedUpdate),
    detail: (body, response) => ({ ...parkedDetail(body, response), reason: body?.reason }),
  });

  const actionDetail = (response: unknown) => {
    const r = response as Partial<OperatorActionResult> | undefined;
    return { ...(r?.phase ? { phase: r.phase } : {}), ...(r?.outcome ? { outcome: r.outcome } : {}) };
  };
  updateRoute({
    path: '/v1/shipments/:id/pod',
    summary:
      'Record a proof of delivery by hand, with the evidence; a shipment waiting for one (missing POD) goes on to billing as delivered',
    action: 'shipment.manual_pod',
    roles: UPDATE_ROLES.recordPod,
    body: ManualPodBody,
    response: OperatorActionResponse,
    rejections: [409, 422],
    run: byPrincipal(recordPodUpdate),
    detail: (body, response) => ({ evidence: body?.evidence, ...actionDetail(response) }),
  });
  updateRoute({
    path: '/v1/shipments/:id/cancel',
    summary:
      'Cancel the shipment before an outcome: its dispatch task is cancelled, the ERP gets a cancelled milestone, its cases are closed, nothing is billed',
    action: 'shipment.cancel',
    roles: UPDATE_ROLES.cancelShipment,
    body: OperatorDecisionBody,
    response: OperatorActionResponse,
    rejections: [409, 422],
    run: byPrincipal(cancelShipmentUpdate),
    detail: (body, response) => ({ reason: body?.reason, ...actionDetail(response) }),
  });
  updateRoute({
    path: '/v1/shipments/:id/return',
    summary:
      'Send the goods back to the depot now: the dispatch task is cancelled, a returned milestone, and the shipment bills what was done',
    action: 'shipment.force_return',
    roles: UPDATE_ROLES.forceReturn,
    body: OperatorDecisionBody,
    response: OperatorActionResponse,
    rejections: [409, 422],
    run: byPrincipal(forceReturnUpdate),
    detail: (body, response) => ({ reason: body?.reason, ...actionDetail(response) }),
  });

  updateRoute({
    path: '/v1/shipments/:id/dispatch/complete',
    summary:
      "Complete the shipment's dispatch task by hand (Onfleet's force completion), as delivered or failed with notes; the shipment follows the webhook dispatch then sends",
    action: 'dispatch.force_complete',
    roles: FORCE_COMPLETE_ROLES,
    body: ForceCompleteBody,
    response: ForceCompleteResponse,
    rejections: [409, 422],
    run: async (wf, body) => {
      const status = await d.client.workflow.getHandle(wf).query(statusQuery);
      if (!status.taskId || !TASK_UNDER_WAY.includes(status.phase))
        throw new GatewayError(
          'TASK_NOT_UNDER_WAY',
          `shipment is ${status.phase}; it has no dispatch task under way to complete`,
        );
      if (!d.dispatch)
        throw new GatewayError('DISPATCH_UNAVAILABLE', 'this gateway has no dispatch API key configured');
      await d.dispatch.completeTask(status.taskId, body);
      return { shipmentId: wf, taskId: status.taskId, success: body.success, phase: status.phase };
    },
    detail: (body, response) => ({
      ...(body ? { success: body.success, notes: body.notes } : {}),
      ...((response as { taskId?: string } | undefined)?.taskId
        ? { taskId: (response as { taskId: string }).taskId }
        : {}),
    }),
  });

  app.get(
    '/v1/shipments/:id',
    {
      onRequest: d.principals.require(READ_ROLES, d.onUnknownToken),
      schema: {
        summary: "A shipment's status (the workflow's status query)",
        tags: ['shipments'],
        security,
        params: ShipmentParams,
        response: { 200: StatusResponse, ...errorResponses(400, 401, 404, 429, 503) },
      },
    },
    async (req, reply) => {
      const workflowId = workflowIdOf(req.params.id);
      try {
        const [status, inbox] = await Promise.all([
          withTemporalDeadline(
            d.client,
            () => d.client.workflow.getHandle(workflowId).query(statusQuery),
            d.queryTimeoutMs,
          ),
          d.store.inbox.shipmentCounts(workflowId),
        ]);
        return reply.send({ ...status, inbox } as unknown as z.infer<typeof StatusResponse>);
      } catch (err) {
        if (err instanceof QueryNotRegisteredError)
          throw new GatewayError('SHIPMENT_NOT_FOUND', `${workflowId} is not a shipment`);
        throw (await toApiError(err, workflowId, describeProbe(d.client, workflowId))) ?? err;
      }
    },
  );

  app.get(
    '/v1/shipments',
    {
      onRequest: d.principals.require(READ_ROLES, d.onUnknownToken),
      schema: {
        summary:
          'Shipments by status, region and open exception (Temporal visibility over the search attributes)',
        tags: ['shipments'],
        security,
        querystring: ListQuery,
        response: { 200: ListResponse, ...errorResponses(400, 401, 429, 503) },
      },
    },
    async (req, reply) => {
      const query = visibilityQuery(req.query);
      try {
        const shipments = await withTemporalDeadline(
          d.client,
          async () => {
            const out: z.infer<typeof ListResponse>['shipments'] = [];
            for await (const wf of d.client.workflow.list({ query, pageSize: req.query.limit })) {
              const sa = wf.typedSearchAttributes;
              const date = sa.get(SA.DeliveryDate);
              out.push({
                shipmentId: wf.workflowId,
                ...(deliveryIdOf(wf.workflowId) ? { deliveryId: deliveryIdOf(wf.workflowId) } : {}),
                ...(sa.get(SA.ShipmentStatus) !== undefined ? { status: sa.get(SA.ShipmentStatus) } : {}),
                ...(sa.get(SA.Region) !== undefined ? { region: sa.get(SA.Region) } : {}),
                ...(sa.get(SA.CustomerId) !== undefined ? { customerId: sa.get(SA.CustomerId) } : {}),
                ...(date ? { deliveryDate: date.toISOString().slice(0, 10) } : {}),
                ...(sa.get(SA.OpenException) !== undefined
                  ? { openException: sa.get(SA.OpenException) }
                  : {}),
                ...(sa.get(SA.InvoiceReady) !== undefined ? { invoiceReady: sa.get(SA.InvoiceReady) } : {}),
                workflowStatus: wf.status.name,
                startTime: wf.startTime.toISOString(),
              });
              if (out.length >= req.query.limit) break;
            }
            return out;
          },
          d.queryTimeoutMs,
        );
        return reply.send({ shipments });
      } catch (err) {
        throw (await toApiError(err, 'shipments', systemProbe(d.client))) ?? err;
      }
    },
  );

  app.get(
    '/v1/dead-letters',
    {
      onRequest: d.principals.require(ADMIN_ROLES, d.onUnknownToken),
      schema: {
        summary: 'Dead letters, newest first',
        tags: ['dead letters'],
        security,
        querystring: DeadLetterListQuery,
        response: { 200: DeadLetterList, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const { limit, status, source, before } = req.query;
      const letters = await d.store.deadLetters.list({
        limit,
        ...(status ? { status } : {}),
        ...(source ? { source } : {}),
        ...(before ? { beforeId: before } : {}),
      });
      const last = letters.at(-1);
      return reply.send({
        deadLetters: letters.map((l) => summaryOf(l, false)),
        ...(letters.length === limit && last ? { nextBefore: last.id } : {}),
      });
    },
  );

  async function letterOr404(id: number): Promise<DeadLetter> {
    const letter = await d.store.deadLetters.get(id);
    if (!letter)
      throw new GatewayError('DEAD_LETTER_NOT_FOUND', `no dead letter ${id}`, { field: 'params.id' });
    return letter;
  }

  app.get(
    '/v1/dead-letters/:id',
    {
      onRequest: d.principals.require(ADMIN_ROLES, d.onUnknownToken),
      schema: {
        summary: 'One dead letter with its payload and headers',
        tags: ['dead letters'],
        security,
        params: DeadLetterParams,
        response: { 200: DeadLetterView, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (req, reply) => reply.send(summaryOf(await letterOr404(req.params.id), true)),
  );

  app.post(
    '/v1/dead-letters/:id/replay',
    {
      onRequest: d.principals.require(ADMIN_ROLES, d.onUnknownToken),
      config: {
        audit: {
          action: 'dead_letter.replay',
          detail: (_req, response) => {
            const outcome = (response as { outcome?: unknown } | undefined)?.outcome;
            return typeof outcome === 'string' ? { outcome } : {};
          },
        },
      },
      schema: {
        summary:
          'Replay a dead letter: back into the inbox under its event id, so replaying twice has one effect',
        tags: ['dead letters'],
        security,
        params: DeadLetterParams,
        headers: IdempotencyHeaders,
        response: { 200: ReplayResponse, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (req, reply) => {
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      const id = req.params.id;
      const res = await respondIdempotently(
        d.store,
        {
          key: scopedKey(principalOf(req), key),
          route: `POST /v1/dead-letters/${id}/replay`,
          body: null,
          now: d.now(),
        },
        async () => {
          const letter = await letterOr404(id);
          if (letter.status === 'replayed')
            return {
              status: 200,
              body: {
                id,
                status: letter.status,
                outcome: 'already_replayed',
                ...(letter.eventId ? { eventId: letter.eventId } : {}),
              },
            };
          if (letter.status === 'discarded')
            throw new GatewayError('DEAD_LETTER_NOT_OPEN', `dead letter ${id} was discarded`);
          const dialect = d.dialects[letter.source];
          const result = await d.intake.replay(letter, dialect);
          const marked = await d.store.deadLetters.markReplayed(id, d.now());
          return {
            status: 200,
            body: {
              id,
              status: 'replayed',
              outcome: marked ? result.outcome : 'already_replayed',
              ...(result.eventId ? { eventId: result.eventId } : {}),
            },
          };
        },
      );
      return send(reply, res);
    },
  );

  app.post(
    '/v1/dead-letters/:id/discard',
    {
      onRequest: d.principals.require(ADMIN_ROLES, d.onUnknownToken),
      config: { audit: { action: 'dead_letter.discard' } },
      schema: {
        summary: 'Discard a dead letter: it stays for the record but is no longer open',
        tags: ['dead letters'],
        security,
        params: DeadLetterParams,
        headers: IdempotencyHeaders,
        response: { 200: DeadLetterView, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (req, reply) => {
      const key = parseIdempotencyKey(req.headers['idempotency-key']);
      const id = req.params.id;
      const res = await respondIdempotently(
        d.store,
        {
          key: scopedKey(principalOf(req), key),
          route: `POST /v1/dead-letters/${id}/discard`,
          body: null,
          now: d.now(),
        },
        async () => {
          const letter = await letterOr404(id);
          if (letter.status !== 'discarded' && !(await d.store.deadLetters.discard(id, d.now()))) {
            throw new GatewayError(
              'DEAD_LETTER_NOT_OPEN',
              `dead letter ${id} was already ${letter.status === 'open' ? 'settled' : letter.status}`,
            );
          }
          return { status: 200, body: summaryOf(await letterOr404(id), false) };
        },
      );
      return send(reply, res);
    },
  );

  app.get(
    '/v1/audit',
    {
      onRequest: d.principals.require(AUDIT_ROLES, d.onUnknownToken),
      schema: {
        summary:
          'The audit trail, newest first: every mutating call, approval, dead-letter replay or discard and operator action',
        description:
          'Allowed roles: auditor, admin. Filter by shipment, principal and time; page with nextCursor.',
        tags: ['audit'],
        security,
        querystring: AuditListQuery,
        response: { 200: AuditList, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (req, reply) => {
      const { shipment, principal, from, to, limit, cursor } = req.query;
      const shipmentId = shipment !== undefined ? normalizeShipmentId(shipment) : undefined;
      const entries = await d.store.audit.list({
        limit,
        ...(shipmentId ? { shipmentId } : {}),
        ...(principal ? { principalId: principal } : {}),
        ...(from ? { from: new Date(from).toISOString() } : {}),
        ...(to ? { to: new Date(to).toISOString() } : {}),
        ...(cursor ? { beforeId: auditCursorId(cursor) } : {}),
      });
      const last = entries.at(-1);
      return reply.send({
        entries,
        ...(entries.length === limit && last ? { nextCursor: auditCursor(last.id) } : {}),
      });
    },
  );
}

/**
 * The visibility query of the list route. Every value was checked against a closed set or a strict
 * pattern by the schema, so none can break out of its quotes.
 */
export function visibilityQuery(q: Pick<ListQuery, 'status' | 'region' | 'exception'>): string {
  const safe = (v: string) => {
    if (!/^[A-Za-z0-9_-]+$/.test(v)) throw new GatewayError('VALIDATION_FAILED', 'invalid filter value');
    return `'${v}'`;
  };
  const clauses = [`WorkflowType = 'ShipmentWorkflow'`];
  if (q.status) clauses.push(`ShipmentStatus = ${safe(q.status)}`);
  if (q.region) clauses.push(`Region = ${safe(q.region)}`);
  if (q.exception === 'any') clauses.push(`OpenException != 'none'`);
  else if (q.exception) clauses.push(`OpenException = ${safe(q.exception)}`);
  return clauses.join(' AND ');
}
