import type { IncomingHttpHeaders } from 'node:http';
import { ZodError } from 'zod';
import { issuePath, ShipsyncError } from '../domain/errors.js';
import { isParsedEvent, parseEvent, type CanonicalEvent } from '../domain/events.js';
import type { AppLogger } from '../platform/logger.js';
import type { DeadLetter, EventSource, InboxWriter, Store, TelemetryBatcher } from '../storage/store.js';
import type { MappedWebhook, WebhookDialect } from './dialects.js';
import { GatewayError, type GatewayErrorCode } from './errors.js';
import { errorText, type Forwarder } from './forwarder.js';
import type { GatewayMetrics } from './metrics.js';
import { normalizeShipmentId } from './temporal.js';

/** The 2xx body of an accepted webhook. */
export interface AcceptedBody {
  accepted: true;
  duplicate?: boolean;
  eventId?: string;
  telemetry?: boolean;
  ignored?: boolean;
  reason?: string;
}

/**
 * What the intake answers: a status and a body (a GatewayError is thrown for every refusal). Accepted
 * webhooks get 200, not 202: Onfleet treats any other status, 2xx included, as a failed delivery.
 */
export interface IntakeResult {
  status: number;
  body: AcceptedBody;
}

/** Dependencies and limits of the intake. */
export interface IntakeDeps {
  store: Store;
  /** Group-committing writer into the store's inbox. */
  inbox: InboxWriter;
  telemetry: TelemetryBatcher;
  forwarder: Forwarder;
  metrics: GatewayMetrics;
  logger: AppLogger;
  now: () => Date;
  /** Inbox rows waiting for delivery above which new events get 429. */
  backlogLimit: number;
}

/** Headers never stored with a dead letter or inbox row. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** The request headers worth keeping with an event, without credentials and bounded in size. */
export function keptHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  let n = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (n++ >= 40) break;
    out[name] = SECRET_HEADERS.has(name)
      ? '[redacted]'
      : (Array.isArray(value) ? value.join(', ') : value).slice(0, 1000);
  }
  return out;
}

/** Printable ids only: an id becomes a database key, a log field and a Temporal request id. */
const PRINTABLE_ID = /^[\x21-\x7e]{1,200}$/;

/** The code, message and field of an error a mapper raised about its input. */
function inputProblem(err: unknown): { code: GatewayErrorCode; message: string; field?: string } | undefined {
  if (err instanceof ShipsyncError) {
    if (err.code !== 'EVENT_SCHEMA_INVALID' && err.code !== 'VALIDATION_FAILED') return undefined;
    return {
      code: 'EVENT_SCHEMA_INVALID',
      message: err.message,
      ...(err.details.field ? { field: err.details.field } : {}),
    };
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const field = issuePath(issue?.path ?? []);
    return {
      code: 'EVENT_SCHEMA_INVALID',
      message: `${field || 'body'}: ${issue?.message ?? 'invalid'}`,
      ...(field ? { field } : {}),
    };
  }
  return undefined;
}

/**
 * The webhook pipeline after the HTTP layer: authenticate on the raw body, parse, map to canonical terms,
 * then commit an event to the inbox (or telemetry to its table) before answering 2xx. Authenticated input
 * that cannot be read is kept as a dead letter; unauthenticated input is refused and not kept.
 */
export class Intake {
  constructor(private readonly d: IntakeDeps) {}

  /** Handles one webhook; throws GatewayError for every refusal. */
  async accept(
    dialect: WebhookDialect,
    req: { headers: IncomingHttpHeaders; rawBody: Buffer | undefined },
  ): Promise<IntakeResult> {
    const { source } = dialect;
    const now = this.d.now();
    if (!req.rawBody)
      return this.refuse(
        source,
        new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'expected an application/json body'),
      );
    const auth = dialect.authenticate(req.headers, req.rawBody, now);
    if (!auth.ok) return this.refuse(source, new GatewayError(auth.code, auth.message));
    const headers = keptHeaders(req.headers);
    const receivedAt = now.toISOString();
    const raw = req.rawBody.toString('utf8');
    // Only an authenticated body is parsed: an unsigned one is never handed to the JSON parser.
    let json: unknown;
    try {
      json = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      json = undefined;
    }
    if (json === undefined) {
      return this.unreadable(
        source,
        raw,
        headers,
        { code: 'EVENT_SCHEMA_INVALID', message: 'body is not valid JSON' },
        receivedAt,
      );
    }
    let mapped: MappedWebhook;
    try {
      mapped = this.checked(dialect.map(json, receivedAt));
    } catch (err) {
      const problem = inputProblem(err);
      if (!problem) {
        this.d.logger.error({ source, err: errorText(err) }, 'webhook mapper failed on its input');
      }
      return this.unreadable(
        source,
        raw,
        headers,
        problem ?? { code: 'EVENT_SCHEMA_INVALID', message: 'the body could not be mapped' },
        receivedAt,
      );
    }
    return this.commit(source, mapped, headers, receivedAt);
  }

  /** Replays a dead letter: a delivery failure goes back in line under its event id; an intake failure is mapped again. */
  async replay(
    letter: DeadLetter,
    dialect: WebhookDialect,
  ): Promise<{ outcome: 'requeued' | 'inserted' | 'duplicate' | 'telemetry' | 'ignored'; eventId?: string }> {
    if (letter.stage === 'delivery' && letter.eventId) {
      if (await this.d.store.inbox.requeue(letter.eventId, this.d.now())) {
        this.d.forwarder.notify();
        return { outcome: 'requeued', eventId: letter.eventId };
      }
      const event = parseEvent(JSON.parse(letter.payload));
      const inserted = await this.insert(letter.source, event, letter.headers, this.d.now().toISOString());
      return { outcome: inserted, eventId: event.id };
    }
    let json: unknown;
    try {
      json = JSON.parse(letter.payload);
    } catch {
      throw new GatewayError('EVENT_SCHEMA_INVALID', 'the stored body is not valid JSON');
    }
    let mapped: MappedWebhook;
    try {
      mapped = this.checked(dialect.map(json, letter.createdAt));
    } catch (err) {
      const problem = inputProblem(err) ?? {
        code: 'EVENT_SCHEMA_INVALID' as const,
        message: 'the body could not be mapped',
      };
      throw new GatewayError(
        problem.code,
        `still unreadable: ${problem.message}`,
        problem.field ? { field: problem.field } : {},
      );
    }
    if (mapped.kind === 'ignored') return { outcome: 'ignored' };
    if (mapped.kind === 'telemetry') {
      await this.d.telemetry.add(mapped.sample);
      return { outcome: 'telemetry' };
    }
    const outcome = await this.insert(
      letter.source,
      mapped.event,
      letter.headers,
      this.d.now().toISOString(),
    );
    return { outcome, eventId: mapped.event.id };
  }

  /**
   * Checks a mapper's event against the envelope schema (unless the mapper returned the parse's own result)
   * and the id rules before it is stored.
   */
  private checked(mapped: MappedWebhook): MappedWebhook {
    if (mapped.kind !== 'event') return mapped;
    const event = isParsedEvent(mapped.event) ? mapped.event : parseEvent(mapped.event);
    if (!PRINTABLE_ID.test(event.id))
      throw new ShipsyncError('EVENT_SCHEMA_INVALID', 'event id must be printable ASCII', { field: 'id' });
    if (!PRINTABLE_ID.test(event.subject)) {
      throw new ShipsyncError('EVENT_SCHEMA_INVALID', 'event subject must be printable ASCII', {
        field: 'subject',
      });
    }
    return { kind: 'event', event };
  }

  private async commit(
    source: EventSource,
    mapped: MappedWebhook,
    headers: Record<string, string>,
    receivedAt: string,
  ): Promise<IntakeResult> {
    if (mapped.kind === 'ignored') {
      this.d.metrics.event(source, 'ignored');
      return { status: 200, body: { accepted: true, ignored: true, reason: mapped.reason } };
    }
    if (mapped.kind === 'telemetry') {
      try {
        await this.d.telemetry.add(mapped.sample);
      } catch (err) {
        throw this.storeDown(source, err);
      }
      this.d.metrics.event(source, 'telemetry');
      this.d.metrics.telemetryRows.inc();
      return { status: 200, body: { accepted: true, telemetry: true } };
    }
    const eventId = mapped.event.id;
    if (this.d.forwarder.backlog >= this.d.backlogLimit) {
      return this.refuse(
        source,
        new GatewayError(
          'INBOX_BACKLOG_FULL',
          `the inbox holds ${this.d.forwarder.backlog} undelivered events; retry later`,
          {
            eventId,
            retryAfterSeconds: 30,
          },
        ),
      );
    }
    let outcome: 'inserted' | 'duplicate';
    try {
      outcome = await this.insert(source, mapped.event, headers, receivedAt);
    } catch (err) {
      throw this.storeDown(source, err);
    }
    const duplicate = outcome === 'duplicate';
    this.d.metrics.event(source, duplicate ? 'duplicate' : 'accepted');
    this.d.logger.debug(
      {
        source,
        eventId,
        type: mapped.event.type,
        shipmentId: normalizeShipmentId(mapped.event.subject) ?? mapped.event.subject,
        correlationId: mapped.event.correlationid,
        duplicate,
      },
      'webhook committed to the inbox',
    );
    return { status: 200, body: { accepted: true, duplicate, eventId } };
  }

  private async insert(
    source: EventSource,
    event: CanonicalEvent,
    headers: Record<string, string>,
    receivedAt: string,
  ) {
    const outcome = await this.d.inbox.insert({
      eventId: event.id,
      source,
      type: event.type,
      ...(normalizeShipmentId(event.subject) ? { shipmentId: normalizeShipmentId(event.subject) } : {}),
      payload: event,
      headers,
      receivedAt,
    });
    if (outcome === 'inserted') this.d.forwarder.forwardNow(event.id);
    return outcome;
  }

  /** Keeps an authenticated but unreadable body as a dead letter and refuses it with the problem. */
  private async unreadable(
    source: EventSource,
    raw: string,
    headers: Record<string, string>,
    problem: { code: GatewayErrorCode; message: string; field?: string },
    receivedAt: string,
  ): Promise<never> {
    try {
      await this.d.store.deadLetters.add({
        source,
        stage: 'intake',
        reason: problem.message,
        code: problem.code,
        payload: raw,
        headers,
        createdAt: receivedAt,
      });
    } catch (err) {
      this.d.logger.error(
        { source, err: errorText(err) },
        'could not keep an unreadable webhook as a dead letter',
      );
    }
    return this.refuse(
      source,
      new GatewayError(problem.code, problem.message, problem.field ? { field: problem.field } : {}),
    );
  }

  private refuse(source: EventSource, err: GatewayError): never {
    this.d.metrics.event(source, 'rejected', err.code);
    throw err;
  }

  private storeDown(source: EventSource, err: unknown): GatewayError {
    this.d.logger.error({ source, err: errorText(err) }, 'could not commit a webhook to the store');
    this.d.metrics.event(source, 'rejected', 'STORE_UNAVAILABLE');
    return new GatewayError('STORE_UNAVAILABLE', 'the inbox could not be written; retry later', {
      retryAfterSeconds: 5,
    });
  }
}
