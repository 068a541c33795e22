// One small adapter per peer job queue, so that run.mjs drives all three
// through the same calls: addOne, addBatch, startWorker, completedCount,
// close. `settings` lists the tuning each adapter uses, for the report.
//
// Concurrency follows each library's own guidance as shipped in its
// package:
// - graphile-worker 0.17: concurrency 10 with its default pool of 10
//   connections; dist/lib.js warns that a pool smaller than the
//   concurrency "may lead to non-optimal performance", so 10 is the
//   highest concurrency the default pool supports.
// - pg-boss 10: there is no concurrency option. A worker fetches up to
//   batchSize jobs, runs the handler on the batch and then waits out the
//   rest of its polling interval (src/worker.js), whose minimum is 0.5 s
//   (src/attorney.js). Throughput is therefore batchSize / interval per
//   worker: we run 2 workers with batchSize 2500 at 0.5 s, and the
//   handler runs a batch's jobs concurrently.
// - BullMQ 5: concurrency defaults to 1 per worker
//   (dist/esm/interfaces/worker-options.d.ts) and its concurrency guide
//   has I/O-bound jobs raise it; we use 100.
// Logging is cut to warnings and errors everywhere, as for pubq.
import { createRequire } from "node:module";

import { Queue, Worker } from "bullmq";
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import pg from "pg";

const require = createRequire(import.meta.url);
const PgBoss = require("pg-boss");

const TASK = "bench";
const GRAPHILE_CONCURRENCY = 10;
const PGBOSS_WORKERS = 2;
const PGBOSS_BATCH = 2500;
const PGBOSS_POLL_SECONDS = 0.5;
const BULLMQ_CONCURRENCY = 100;

function uniqueName(prefix) {
    return `${prefix}_${process.pid}_${Date.now()}`;
}

function requireEnv(name) {
    const value = process.env[name];
    if (!value)
        throw new Error(`${name} is not set; bench/run sets it`);
    return value;
}

const quietLogger = new Logger(() => (level, message) => {
    if (level === "error" || level === "warning")
        process.stderr.write(`graphile-worker ${level}: ${message}\n`);
});

async function graphileWorker() {
    const connectionString = requireEnv("PUBQ_TEST_PG_URL");
    const schema = uniqueName("gw");
    const utils = await makeWorkerUtils({ connectionString, schema,
                                          logger: quietLogger });
    const pool = new pg.Pool({ connectionString, max: 1 });
    let added = 0;
    let runner = null;

    await utils.migrate();
    return {
        settings: { concurrency: GRAPHILE_CONCURRENCY, pool: 10 },
        async addOne(data, runAt) {
            await utils.addJob(TASK, data, runAt ? { runAt } : undefined);
            added++;
        },
        async addBatch(items, runAt) {
            await utils.addJobs(items.map((payload) =>
                ({ identifier: TASK, payload, runAt })));
            added += items.length;
        },
        async startWorker(handler) {
            runner = await run({
                connectionString, schema, logger: quietLogger,
                concurrency: GRAPHILE_CONCURRENCY, maxPoolSize: 10,
                noHandleSignals: true,
                taskList: { [TASK]: async (payload) => handler(payload) },
            });
        },
        async completedCount() {
            const { rows } = await pool.query(
                `select count(*)::int as left from ${schema}._private_jobs`);
            return added - rows[0].left;
        },
        async close() {
            if (runner)
                await runner.stop();
            await utils.release();
            await pool.query(`drop schema if exists ${schema} cascade`);
            await pool.end();
        },
    };
}

async function pgBoss() {
    const connectionString = requireEnv("PUBQ_TEST_PG_URL");
    const schema = uniqueName("pgboss");
    const boss = new PgBoss({ connectionString, schema });
    const pool = new pg.Pool({ connectionString, max: 1 });

    boss.on("error", (error) =>
        process.stderr.write(`pg-boss error: ${error.message}\n`));
    await boss.start();
    await boss.createQueue(TASK);
    return {
        settings: { workers: PGBOSS_WORKERS, batch_size: PGBOSS_BATCH,
                    polling_seconds: PGBOSS_POLL_SECONDS },
        async addOne(data, runAt) {
            await boss.send(TASK, data, runAt ? { startAfter: runAt } : {});
        },
        async addBatch(items, runAt) {
            await boss.insert(items.map((data) =>
                ({ name: TASK, data, startAfter: runAt })));
        },
        async startWorker(handler) {
            for (let i = 0; i < PGBOSS_WORKERS; i++) {
                await boss.work(TASK, {
                    batchSize: PGBOSS_BATCH,
                    pollingIntervalSeconds: PGBOSS_POLL_SECONDS,
                }, async (jobs) => {
                    await Promise.all(jobs.map((job) => handler(job.data)));
                });
            }
        },
        async completedCount() {
            const { rows } = await pool.query(
                `select count(*)::int as done from ${schema}.job ` +
                "where name = $1 and state = 'completed'", [TASK]);
            return rows[0].done;
        },
        async close() {
            await boss.stop({ graceful: false, wait: true });
            await pool.query(`drop schema if exists ${schema} cascade`);
            await pool.end();
        },
    };
}

async function bullmq() {
    const url = new URL(requireEnv("BENCH_REDIS_URL"));
    const connection = { host: url.hostname, port: Number(url.port),
                         maxRetriesPerRequest: null };
    const name = uniqueName("bench");
    const queue = new Queue(name, { connection });
    let worker = null;
    let completed = 0;

    const delayOf = (runAt) => runAt ? { delay: runAt - Date.now() }
                                     : undefined;
    await queue.waitUntilReady();
    return {
        settings: { concurrency: BULLMQ_CONCURRENCY },
        async addOne(data, runAt) {
            await queue.add(TASK, data, delayOf(runAt));
        },
        async addBatch(items, runAt) {
            await queue.addBulk(items.map((data) =>
                ({ name: TASK, data, opts: delayOf(runAt) })));
        },
        async startWorker(handler) {
            worker = new Worker(name, async (job) => handler(job.data),
                                { connection,
                                  concurrency: BULLMQ_CONCURRENCY });
            worker.on("completed", () => completed++);
            worker.on("failed", (job, error) => process.stderr.write(
                `bullmq job failed: ${error.message}\n`));
            await worker.waitUntilReady();
        },
        async completedCount() {
            return completed;
        },
        async close() {
            if (worker)
                await worker.close(true);
            await queue.obliterate({ force: true });
            await queue.close();
        },
    };
}

export const PEERS = {
    "graphile-worker": graphileWorker,
    "pg-boss": pgBoss,
    bullmq,
};

export async function createPeer(name) {
    return PEERS[name]();
}
