// The load generator of `npm run bench:gateway`, on a thread of its own so the gateway's event loop is not
// shared with the client that drives it. Plain JavaScript: a worker thread starts without the TypeScript
// loader of its parent. Each message `{ url, hooks, concurrency }` sends every signed webhook once over
// `concurrency` keep-alive connections and answers `{ ok, result: { latencies, statuses, elapsedMs, thread } }`.
// It uses `node:http` with a keep-alive agent, not `fetch`: fetch's streams cost the sender more CPU per
// request than the gateway spends accepting it, and the sender shares the machine's cores with the gateway.
import { Buffer } from 'node:buffer';
import { readlinkSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { URL } from 'node:url';
import { parentPort } from 'node:worker_threads';

/** One POST over `agent`; resolves with the status once the whole answer is read. */
function post(agent, target, body, signature) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-onfleet-signature': signature,
        },
      },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** @param {{ url: string, hooks: { body: string, signature: string }[], concurrency: number }} job */
async function blast({ url, hooks, concurrency }) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  /** @type {number[]} */
  const latencies = [];
  /** @type {Record<string, number>} */
  const statuses = {};
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < hooks.length; i = next++) {
      const hook = hooks[i];
      const started = performance.now();
      const status = await post(agent, target, hook.body, hook.signature);
      latencies.push(performance.now() - started);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    agent.destroy();
  }
  return { latencies, statuses, elapsedMs: performance.now() - started, thread: threadPath() };
}

/** This thread's `/proc` entry (`<pid>/task/<tid>`) so the bench can read its CPU time; Linux only. */
function threadPath() {
  try {
    return readlinkSync('/proc/thread-self');
  } catch {
    return undefined;
  }
}

const port = parentPort;
port?.on('message', (job) => {
  blast(job).then(
    (result) => port.postMessage({ ok: true, result }),
    (err) => port.postMessage({ ok: false, error: String(err) }),
  );
});
