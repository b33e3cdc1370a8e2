import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EventSource } from '../storage/store.js';
import type { WebhookDialect } from './dialects.js';
import type { Intake } from './intake.js';
import { errorResponses, WebhookAccepted } from './schemas.js';

/**
 * What the JSON body parser leaves on a request: the exact bytes, and (API routes only) whether they were
 * valid JSON. Webhook routes are not parsed at all before their signature is checked.
 */
export interface RawBodyRequest extends FastifyRequest {
  rawBody?: Buffer;
  jsonInvalid?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is kept as bytes only; the handler parses it after authenticating them (webhooks). */
    rawBodyOnly?: boolean;
  }
}

const WEBHOOKS: { path: string; source: EventSource; summary: string; description: string }[] = [
  {
    path: '/webhooks/dispatch',
    source: 'dispatch',
    summary: 'Onfleet webhook (taskStarted, taskEta, taskArrival, taskCompleted, taskFailed, ...)',
    description: 'Signed with X-Onfleet-Signature: hex HMAC-SHA512 of the raw body under the webhook secret.',
  },
  {
    path: '/webhooks/crm',
    source: 'crm',
    summary: 'Zendesk webhook (zen:event-type:ticket.reschedule_requested)',
    description:
      'Signed with X-Zendesk-Webhook-Signature: base64 HMAC-SHA256 of timestamp + raw body, the timestamp in X-Zendesk-Webhook-Signature-Timestamp (refused outside the tolerance window).',
  },
  {
    path: '/webhooks/erp/releases',
    source: 'erp',
    summary:
      'SAP S/4HANA outbound delivery release push (A_OutbDeliveryHeader JSON, with or without the OData "d" wrapper)',
    description: 'Authenticated with Authorization: Bearer <SHIPSYNC_ERP_WEBHOOK_TOKEN>.',
  },
];

/** Registers the vendor webhook endpoints and the Onfleet `?check=` handshake. */
export function registerWebhookRoutes(
  root: FastifyInstance,
  intake: Intake,
  dialects: Record<EventSource, WebhookDialect>,
) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  for (const hook of WEBHOOKS) {
    const dialect = dialects[hook.source];
    app.post(
      hook.path,
      {
        config: { rawBodyOnly: true, webhookSource: hook.source },
        schema: {
          summary: hook.summary,
          description: `${hook.description} An accepted event is committed to the durable inbox before the 2xx; a redelivered event gets the same 2xx with duplicate: true.`,
          tags: ['webhooks'],
          response: { 200: WebhookAccepted, ...errorResponses(400, 401, 413, 415, 429, 503) },
        },
      },
      async (req, reply) => {
        const r = req as RawBodyRequest;
        const res = await intake.accept(dialect, { headers: req.headers, rawBody: r.rawBody });
        return reply.status(res.status as 200).send(res.body);
      },
    );
  }

  app.get(
    '/webhooks/dispatch',
    {
      config: { webhookSource: 'dispatch' },
      schema: {
        summary: 'Onfleet webhook validation: answers the value of `check` as plain text',
        tags: ['webhooks'],
        querystring: z.object({ check: z.string().min(1).max(512) }),
        response: { 200: z.string(), ...errorResponses(400) },
      },
    },
    async (req, reply) =>
      reply
        .header('x-content-type-options', 'nosniff')
        .type('text/plain; charset=utf-8')
        .send(req.query.check),
  );
}
