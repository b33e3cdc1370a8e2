import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import type { FaultInjector } from './faults.js';

/** One webhook to send: the exact body bytes and the headers that sign them. */
export interface OutgoingWebhook {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/**
 * Sends a sandbox's webhooks in order with retries and backoff (as vendors do), applying the
 * duplicate and out-of-order faults. Delivery is asynchronous; `drain()` waits for the queue to empty.
 */
export class WebhookSender {
  private queue: OutgoingWebhook[] = [];
  private heldBack: OutgoingWebhook | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Every attempt's outcome, for inspection. */
  readonly log: { url: string; status: number | 'error'; at: string }[] = [];

  constructor(
    private readonly faults: FaultInjector,
    private readonly opts: {
      maxAttempts?: number;
      baseDelayMs?: number;
      timeoutMs?: number;
      /** How long a reordered webhook waits for the next one before it goes out anyway. */
      maxHoldMs?: number;
    } = {},
  ) {}

  /** Queues a webhook; returns at once. */
  send(hook: OutgoingWebhook) {
    if (this.faults.reorderWebhook() && !this.heldBack) {
      // Delivered after the next webhook, or after a moment when none follows: late, never lost.
      this.heldBack = hook;
      this.heldTimer = setTimeout(() => this.releaseHeldBack(), this.opts.maxHoldMs ?? 1_000);
      this.heldTimer.unref();
      return;
    }
    const copies = this.faults.duplicateWebhook() ? this.faults.settings.webhookDuplicateCopies : 1;
    for (let i = 0; i < copies; i++) this.queue.push(hook);
    this.releaseHeldBack();
  }

  /** Resolves when every queued webhook was delivered or gave up; flushes a held-back one. */
  async drain() {
    this.releaseHeldBack();
    while (this.running) await this.running;
  }

  /** Queues the held-back webhook, if any, and makes sure the queue is being sent. */
  private releaseHeldBack() {
    if (this.heldBack) {
      clearTimeout(this.heldTimer);
      this.queue.push(this.heldBack);
      this.heldBack = undefined;
    }
    this.kick();
  }

  /** Starts sending unless a pump is already at it; a webhook queued as a pump finishes starts the next. */
  private kick() {
    if (this.queue.length === 0) return;
    this.running ??= this.pump().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private async pump() {
    for (let hook = this.queue.shift(); hook; hook = this.queue.shift()) await this.deliver(hook);
  }

  private async deliver(hook: OutgoingWebhook) {
    const maxAttempts = this.opts.maxAttempts ?? 8;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      try {
        const res = await axios.post(hook.url, hook.body, {
          headers: hook.headers,
          timeout: this.opts.timeoutMs ?? 10_000,
          validateStatus: () => true,
          transformRequest: [(d: unknown) => d],
        });
        this.log.push({ url: hook.url, status: res.status, at: new Date().toISOString() });
        // Vendors stop retrying on 2xx and on 4xx other than 429; they retry 429 and 5xx.
        if (res.status < 500 && res.status !== 429) return;
      } catch {
        this.log.push({ url: hook.url, status: 'error', at: new Date().toISOString() });
      }
      await sleep((this.opts.baseDelayMs ?? 200) * 2 ** (attempt - 1));
    }
  }
}
