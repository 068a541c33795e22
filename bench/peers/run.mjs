// Measures one peer job queue on one workload and prints one JSON line.
//
//   node run.mjs PEER MODE N
//
// PEER: graphile-worker, pg-boss or bullmq. MODE:
//   enqueue-batch   add N jobs, BATCH_SIZE per call of the batch API
//   enqueue-single  add N jobs one per call, CALLERS calls in flight
//   noop            process N queued jobs whose handler does nothing
//   http            process N queued jobs whose handler POSTs to the sink
//   latency         N jobs due at the same instant 2 s ahead: how late
//                   each handler starts
//
// Environment: PUBQ_TEST_PG_URL (graphile-worker, pg-boss), BENCH_REDIS_URL
// (bullmq), BENCH_SINK_URL (http). Each run uses a schema or queue of its
// own and drops it at the end, so runs do not see each other's jobs.
import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

import { createPeer, PEERS } from "./peers.mjs";

const BATCH_SIZE = 1000;
const CALLERS = 16;
const LATENCY_LEAD_MS = 2000;
const WAIT_LIMIT_MS = 300000;

function usage(message) {
    process.stderr.write(`run.mjs: ${message}\n` +
        `usage: node run.mjs (${Object.keys(PEERS).join("|")}) ` +
        "(enqueue-batch|enqueue-single|noop|http|latency) N\n");
    process.exit(2);
}

function jobData(i) {
    return { contentItemId: `c${i}`, text: `hello ${i}` };
}

async function enqueueBatch(peer, n) {
    const start = performance.now();

    for (let done = 0; done < n; done += BATCH_SIZE) {
        const items = [];
        for (let i = done; i < Math.min(n, done + BATCH_SIZE); i++)
            items.push(jobData(i));
        await peer.addBatch(items);
    }
    return { jobs: n, seconds: (performance.now() - start) / 1000 };
}

async function enqueueSingle(peer, n) {
    let next = 0;
    const start = performance.now();

    async function caller() {
        while (next < n) {
            const i = next++;
            await peer.addOne(jobData(i));
        }
    }
    await Promise.all(Array.from({ length: CALLERS }, caller));
    return { jobs: n, seconds: (performance.now() - start) / 1000 };
}

// Jobs are queued before the clock starts; the clock stops when the
// library has recorded all N as complete, not when the last handler
// returns, because that is when the work is done for the queue too.
async function processJobs(peer, n, handler) {
    await enqueueBatch(peer, n);

    const start = performance.now();
    await peer.startWorker(handler);
    await waitFor(() => peer.completedCount(), n);
    const seconds = (performance.now() - start) / 1000;

    return { jobs: n, seconds };
}

async function waitFor(count, target) {
    const limit = performance.now() + WAIT_LIMIT_MS;

    while (performance.now() < limit) {
        if (await count() >= target)
            return;
        await sleep(20);
    }
    throw new Error(`timed out after ${WAIT_LIMIT_MS} ms waiting for ` +
        `${target} completed jobs`);
}

// node:http with a keep-alive agent: on this machine it sends about three
// times as many requests per second as the built-in fetch does.
const sinkAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function postToSink(sinkUrl, data) {
    const body = JSON.stringify(data);

    return new Promise((resolve, reject) => {
        const request = http.request(sinkUrl, {
            method: "POST", agent: sinkAgent,
            headers: { "content-type": "application/json",
                       "content-length": Buffer.byteLength(body) },
        }, (response) => {
            response.resume();
            response.on("end", () => response.statusCode === 200
                ? resolve()
                : reject(new Error(`sink returned HTTP ${response.statusCode}`)));
        });
        request.on("error", reject);
        request.end(body);
    });
}

// The due instant is a whole second at least LATENCY_LEAD_MS ahead, the
// same for every job; each handler records how late it started.
async function latency(peer, n) {
    const lateness = [];
    const due = Math.ceil((Date.now() + LATENCY_LEAD_MS) / 1000) * 1000;

    await peer.startWorker(() => {
        lateness.push(Date.now() - due);
    });
    for (let done = 0; done < n; done += BATCH_SIZE) {
        const items = [];
        for (let i = done; i < Math.min(n, done + BATCH_SIZE); i++)
            items.push(jobData(i));
        await peer.addBatch(items, new Date(due));
    }
    await waitFor(() => peer.completedCount(), n);

    lateness.sort((a, b) => a - b);
    const pick = (q) => lateness[Math.min(n - 1, Math.ceil(q * n) - 1)];
    return { jobs: n, p50_ms: pick(0.5), p99_ms: pick(0.99),
             max_ms: lateness[n - 1], min_ms: lateness[0] };
}

async function main() {
    const [peerName, mode, countText] = process.argv.slice(2);
    const n = Number.parseInt(countText ?? "", 10);

    if (!(peerName in PEERS))
        usage(`unknown peer "${peerName}"`);
    if (!Number.isInteger(n) || n < 1 || String(n) !== countText)
        usage(`invalid N "${countText}": use a whole number above 0`);

    const sinkUrl = process.env.BENCH_SINK_URL;
    const peer = await createPeer(peerName);
    let result;

    try {
        if (mode === "enqueue-batch") {
            result = await enqueueBatch(peer, n);
        } else if (mode === "enqueue-single") {
            result = await enqueueSingle(peer, n);
        } else if (mode === "noop") {
            result = await processJobs(peer, n, () => {});
        } else if (mode === "http") {
            if (!sinkUrl)
                usage("BENCH_SINK_URL is not set");
            result = await processJobs(peer, n,
                (data) => postToSink(sinkUrl, data));
        } else if (mode === "latency") {
            result = await latency(peer, n);
        } else {
            usage(`unknown mode "${mode}"`);
        }
    } finally {
        await peer.close();
        sinkAgent.destroy();
    }
    if (result.seconds !== undefined)
        result.jobs_per_second = result.jobs / result.seconds;
    process.stdout.write(JSON.stringify({
        system: peerName, mode, n, ...peer.settings, ...result,
    }) + "\n");
}

main().catch((error) => {
    process.stderr.write(`run.mjs: ${error.stack ?? error}\n`);
    process.exit(1);
});
