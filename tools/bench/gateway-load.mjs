// The load generator of `npm run bench:gateway`, on a thread of its own so the gateway's event loop is not
// shared with the client that drives it. Plain JavaScript: a worker thread starts without the TypeScript
// loader of its parent. Each message `{ url, hooks, concurrency }` sends every signed webhook once over
// `concurrency` keep-alive connections and answers `{ ok, result: { latencies, statuses, elapsedMs } }`.
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';

const { fetch } = globalThis;

/** @param {{ url: string, hooks: { body: string, signature: string }[], concurrency: number }} job */
async function blast({ url, hooks, concurrency }) {
  /** @type {number[]} */
  const latencies = [];
  /** @type {Record<string, number>} */
  const statuses = {};
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < hooks.length; i = next++) {
      const hook = hooks[i];
      const started = performance.now();
      const res = await fetch(url, {
        method: 'POST',
        body: hook.body,
        headers: { 'content-type': 'application/json', 'x-onfleet-signature': hook.signature },
      });
      await res.arrayBuffer();
      latencies.push(performance.now() - started);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { latencies, statuses, elapsedMs: performance.now() - started };
}

const port = parentPort;
port?.on('message', (job) => {
  blast(job).then(
    (result) => port.postMessage({ ok: true, result }),
    (err) => port.postMessage({ ok: false, error: String(err) }),
  );
});
