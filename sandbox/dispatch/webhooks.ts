import { createHmac, randomBytes } from 'node:crypto';
import axios from 'axios';
import type { WebhookSender } from '../common/webhooks.js';
import type { OnfleetTask, OnfleetWebhook, OnfleetWorker, TriggerName } from './onfleet.js';
import { WEBHOOK_TRIGGERS } from './onfleet.js';
import type { IdFactory } from './seed.js';

/**
 * The HMAC key of a webhook secret. Onfleet's dashboard hands out secrets as hex strings and signs with the
 * decoded bytes; a secret that is not hex (such as the sandbox default) is used as its UTF-8 bytes.
 */
export function webhookSecretKey(secret: string): Buffer {
  return /^(?:[0-9a-fA-F]{2})+$/.test(secret) ? Buffer.from(secret, 'hex') : Buffer.from(secret, 'utf8');
}

/** Onfleet's X-Onfleet-Signature: hex HMAC-SHA512 of the raw body. */
export function signBody(secret: string, rawBody: string): string {
  return createHmac('sha512', webhookSecretKey(secret)).update(rawBody, 'utf8').digest('hex');
}

/** Who caused a webhook, as Onfleet reports it. */
export interface ActionContext {
  type: 'ADMIN' | 'WORKER' | 'SYSTEM';
  id: string;
}

/** One event to publish to the webhooks registered for its trigger. */
export interface WebhookEvent {
  trigger: TriggerName;
  /** Simulated epoch ms at which the event happened. */
  time: number;
  /** The task the event is about; absent for worker events (workerDuty). */
  task?: OnfleetTask | undefined;
  worker?: OnfleetWorker | undefined;
  actionContext: ActionContext;
  /** taskEta: seconds until the worker arrives. */
  etaSeconds?: number;
  /** taskArrival: metres between the worker and the destination. */
  distance?: number;
  /** workerDuty: 1 on duty, 0 off duty. */
  status?: number;
}

/** Why registering a webhook failed. */
export class WebhookValidationError extends Error {
  /** Creates the error; the message is the cause reported to the caller. */
  constructor(message: string) {
    super(message);
    this.name = 'WebhookValidationError';
  }
}

/** Registered webhooks, the ?check= handshake, and signed delivery through the shared WebhookSender. */
export class WebhookHub {
  private readonly hooks = new Map<string, OnfleetWebhook>();

  constructor(
    private readonly opts: {
      sender: WebhookSender;
      secret: string;
      ids: IdFactory;
      adminId: string;
      handshakeTimeoutMs?: number;
    },
  ) {}

  /** Registers a webhook after its URL echoes a random check value, as Onfleet requires. */
  async register(input: {
    url: string;
    trigger: number;
    name?: string;
    threshold?: number;
  }): Promise<OnfleetWebhook> {
    await this.handshake(input.url);
    return this.add(input);
  }

  /** Registers a webhook without the handshake (sandbox start-up wiring, when the receiver may not be up yet). */
  add(input: { url: string; trigger: number; name?: string; threshold?: number }): OnfleetWebhook {
    const hook: OnfleetWebhook = {
      id: this.opts.ids.next(),
      name: input.name ?? `trigger ${input.trigger}`,
      url: input.url,
      trigger: input.trigger,
      ...(input.threshold === undefined ? {} : { threshold: input.threshold }),
      isEnabled: true,
      count: 0,
    };
    this.hooks.set(hook.id, hook);
    return hook;
  }

  /** Every registered webhook. */
  list(): OnfleetWebhook[] {
    return [...this.hooks.values()];
  }

  /** Removes a webhook; false when there was none with that id. */
  remove(id: string): boolean {
    return this.hooks.delete(id);
  }

  /** Sends the event to every enabled webhook of its trigger, signed, through the sender's queue. */
  publish(event: WebhookEvent): void {
    const triggerId = WEBHOOK_TRIGGERS[event.trigger];
    const targets = [...this.hooks.values()].filter(
      (h) => h.isEnabled && h.trigger === triggerId && this.passes(h, event),
    );
    if (targets.length === 0) return;
    const payload: Record<string, unknown> = {
      actionContext: event.actionContext,
      adminId: event.actionContext.type === 'ADMIN' ? event.actionContext.id : null,
      data: {
        ...(event.task ? { task: event.task } : {}),
        ...(event.worker ? { worker: workerSummary(event.worker) } : {}),
      },
      ...(event.task ? { taskId: event.task.id } : {}),
      time: event.time,
      triggerId,
      triggerName: event.trigger,
      workerId: event.task?.worker ?? event.worker?.id ?? null,
      ...(event.etaSeconds === undefined ? {} : { etaSeconds: event.etaSeconds }),
      ...(event.distance === undefined ? {} : { distance: event.distance }),
      ...(event.status === undefined ? {} : { status: event.status }),
    };
    const body = JSON.stringify(payload);
    const signature = signBody(this.opts.secret, body);
    for (const hook of targets) {
      hook.count += 1;
      this.opts.sender.send({
        url: hook.url,
        body,
        headers: {
          'content-type': 'application/json',
          'x-onfleet-signature': signature,
          'user-agent': 'Onfleet-Sandbox/2',
        },
      });
    }
  }

  /** taskEta fires only when the worker is within the threshold in seconds, taskArrival within the threshold in metres. */
  private passes(hook: OnfleetWebhook, event: WebhookEvent): boolean {
    if (hook.threshold === undefined) return true;
    if (event.trigger === 'taskEta' && event.etaSeconds !== undefined)
      return event.etaSeconds <= hook.threshold;
    if (event.trigger === 'taskArrival' && event.distance !== undefined)
      return event.distance <= hook.threshold;
    return true;
  }

  private async handshake(url: string): Promise<void> {
    const check = randomBytes(12).toString('hex');
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new WebhookValidationError('url is not a valid absolute URL');
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new WebhookValidationError('url must use http or https');
    }
    target.searchParams.set('check', check);
    try {
      const res = await axios.get<string>(target.toString(), {
        timeout: this.opts.handshakeTimeoutMs ?? 5000,
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        maxRedirects: 0,
      });
      const body = typeof res.data === 'string' ? res.data.trim() : '';
      if (res.status !== 200 || body !== check) {
        throw new WebhookValidationError(`the URL answered ${res.status} without echoing the check value`);
      }
    } catch (err) {
      if (err instanceof WebhookValidationError) throw err;
      throw new WebhookValidationError(`the URL could not be reached: ${(err as Error).message}`);
    }
  }
}

/** The worker fields a webhook carries alongside the task. */
function workerSummary(w: OnfleetWorker) {
  return {
    id: w.id,
    name: w.name,
    phone: w.phone,
    onDuty: w.onDuty,
    location: w.location,
    timeLastSeen: w.timeLastSeen,
    vehicle: { id: w.vehicle.id, type: w.vehicle.type, description: w.vehicle.description },
    teams: w.teams,
  };
}
