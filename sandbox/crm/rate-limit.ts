/** The outcome of taking one request from the budget. */
export type Take = { ok: true; limit: number; remaining: number } | { ok: false; retryAfterSeconds: number };

/** A per-minute request budget for the whole account, as Zendesk meters its API (a fixed one-minute window). */
export class MinuteBudget {
  private windowStart = 0;
  private used = 0;

  constructor(
    readonly limit: number,
    private readonly now: () => number,
  ) {}

  /** Takes one request from the current minute's budget, or says how long until the next minute. */
  take(): Take {
    const now = this.now();
    if (now - this.windowStart >= 60_000) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.limit) {
      return {
        ok: false,
        retryAfterSeconds: Math.max(1, Math.ceil((this.windowStart + 60_000 - now) / 1000)),
      };
    }
    this.used += 1;
    return { ok: true, limit: this.limit, remaining: this.limit - this.used };
  }
}
