import PQueue from 'p-queue';

/**
 * A queue that lets at most `requestsPerSecond` requests start in any second (a vendor's rate limit, or our
 * share of it), smoothed over tenths of a second; unlimited when undefined. A bulk call is one request.
 */
export function requestPacer(requestsPerSecond?: number): PQueue {
  if (requestsPerSecond === undefined || !Number.isFinite(requestsPerSecond)) return new PQueue();
  const windows = Math.max(1, Math.min(10, Math.floor(requestsPerSecond)));
  return new PQueue({
    intervalCap: Math.max(1, Math.floor(requestsPerSecond / windows)),
    interval: 1000 / windows,
    strict: true,
  });
}
