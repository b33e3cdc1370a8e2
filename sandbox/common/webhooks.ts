import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import type { FaultInjector } from './faults.js';

/** One webhook to send: the exact body bytes and the headers that sign them. */
export interface OutgoingWebhook {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** One delivery attempt as the sender saw it. */
export interface DeliveryAttempt {
  /** Which webhook: its number in the order it was handed to `send` (copies of a duplicate share it). */
  seq: number;
  url: string;
  status: number | 'error';
  at: string;
  /** The receiver's answer to a 2xx, when it was a JSON object. */
  data?: Record<string, unknown>;
}

/** A webhook the sender stopped retrying without a 2xx (the receiver may still have it). */
export interface AbandonedWebhook {
  seq: number;
  url: string;
  attempts: number;
  lastStatus: number | 'error';
  at: string;
}

interface Queued {
  seq: number;
  hook: OutgoingWebhook;
}

/** The queue of one destination: its webhooks in order and the pump sending them, if one runs. */
interface Lane {
  queue: Queued[];
  running: Promise<void> | undefined;
}

/**
 * Sends a sandbox's webhooks with retries and backoff (as vendors do), applying the duplicate and
 * out-of-order faults. Each destination URL has its own queue, kept in order: a receiver that is down holds
 * back only the webhooks meant for it, and they go out once it answers again. Delivery is asynchronous;
 * `drain()` waits for every queue to empty.
 */
export class WebhookSender {
  private readonly lanes = new Map<string, Lane>();
  private heldBack: Queued | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private nextSeq = 0;
  /** Every attempt's outcome, for inspection. */
  readonly log: DeliveryAttempt[] = [];
  /** Webhooks given up after the last attempt without a 2xx. */
  readonly abandoned: AbandonedWebhook[] = [];

  constructor(
    private readonly faults: FaultInjector,
    private readonly opts: {
      maxAttempts?: number;
      baseDelayMs?: number;
      /** The longest pause between two attempts (the backoff doubles up to it). */
      maxDelayMs?: number;
      timeoutMs?: number;
      /** How long a reordered webhook waits for the next one before it goes out anyway. */
      maxHoldMs?: number;
    } = {},
  ) {}

  /** Queues a webhook; returns at once. */
  send(hook: OutgoingWebhook) {
    const item = { seq: this.nextSeq++, hook };
    if (this.faults.reorderWebhook() && !this.heldBack) {
      // Delivered after the next webhook, or after a moment when none follows: late, never lost.
      this.heldBack = item;
      this.heldTimer = setTimeout(() => this.releaseHeldBack(), this.opts.maxHoldMs ?? 1_000);
      this.heldTimer.unref();
      return;
    }
    const copies = this.faults.duplicateWebhook() ? this.faults.settings.webhookDuplicateCopies : 1;
    for (let i = 0; i < copies; i++) this.enqueue(item);
    this.releaseHeldBack();
  }

  /** Resolves when every queued webhook was delivered or given up; flushes a held-back one. */
  async drain() {
    this.releaseHeldBack();
    for (;;) {
      const running = [...this.lanes.values()].flatMap((l) => (l.running ? [l.running] : []));
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Webhooks queued or being sent, over every destination. */
  get pending(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.length + (lane.running ? 1 : 0);
    return n;
  }

  /** Queues the held-back webhook, if any. */
  private releaseHeldBack() {
    if (!this.heldBack) return;
    clearTimeout(this.heldTimer);
    const item = this.heldBack;
    this.heldBack = undefined;
    this.enqueue(item);
  }

  private enqueue(item: Queued) {
    let lane = this.lanes.get(item.hook.url);
    if (!lane) {
      lane = { queue: [], running: undefined };
      this.lanes.set(item.hook.url, lane);
    }
    lane.queue.push(item);
    this.kick(lane);
  }

  /** Starts sending a lane unless its pump is already at it; a webhook queued as a pump finishes starts the next. */
  private kick(lane: Lane) {
    if (lane.queue.length === 0) return;
    lane.running ??= this.pump(lane).finally(() => {
      lane.running = undefined;
      this.kick(lane);
    });
  }

  private async pump(lane: Lane) {
    for (let item = lane.queue.shift(); item; item = lane.queue.shift()) await this.deliver(item);
  }

  private async deliver({ seq, hook }: Queued) {
    const maxAttempts = this.opts.maxAttempts ?? 8;
    const maxDelayMs = this.opts.maxDelayMs ?? Number.POSITIVE_INFINITY;
    let lastStatus: number | 'error' = 'error';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      try {
        const res = await axios.post(hook.url, hook.body, {
          headers: hook.headers,
          timeout: this.opts.timeoutMs ?? 10_000,
          validateStatus: () => true,
          transformRequest: [(d: unknown) => d],
        });
        lastStatus = res.status;
        const ok = res.status >= 200 && res.status < 300;
        const data: unknown = res.data;
        this.log.push({
          seq,
          url: hook.url,
          status: res.status,
          at: new Date().toISOString(),
          ...(ok && data !== null && typeof data === 'object' && !Array.isArray(data)
            ? { data: data as Record<string, unknown> }
            : {}),
        });
        // Vendors stop retrying on 2xx and on 4xx other than 429; they retry 429 and 5xx.
        if (res.status < 500 && res.status !== 429) return;
      } catch {
        lastStatus = 'error';
        this.log.push({ seq, url: hook.url, status: 'error', at: new Date().toISOString() });
      }
      if (attempt < maxAttempts)
        await sleep(Math.min(maxDelayMs, (this.opts.baseDelayMs ?? 200) * 2 ** (attempt - 1)));
    }
    this.abandoned.push({
      seq,
      url: hook.url,
      attempts: maxAttempts,
      lastStatus,
      at: new Date().toISOString(),
    });
  }
}
