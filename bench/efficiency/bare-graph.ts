/**
 * The bare BullMQ graph, as a program of its own (bench/efficiency/bare.ts starts it): the product's job
 * graph with trivial processors — search → authorize → a flow of 3 detail children under their report
 * parent — with the product's concurrency, on the bench's Redis. What a task costs BullMQ and Redis alone:
 * the ceiling the product's throughput is compared with. Its job options are fixed here (the product's
 * before issue 16, BullMQ's default events stream), so the reference does not move when the product's do.
 *
 * Talks over stdin/stdout: prints `{"warm":…}` after its warm-up, runs the measured tasks on `go`,
 * prints `{"done":…}`, and closes on `stop` (or when stdin closes).
 * Env: REDIS_URL, BARE_PREFIX, BARE_TASKS, BARE_WARMUP, WORKER_CONCURRENCY, DETAIL_CONCURRENCY.
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { FlowProducer, Queue, Worker } from 'bullmq';
import type { JobsOptions } from 'bullmq';
import { redisConnection } from '../../queues/connection.ts';

type Stage = 'search' | 'authorize' | 'detail' | 'report';
const ATTEMPTS: Record<Stage, number> = { search: 6, authorize: 6, detail: 8, report: 8 };
const jobOptions = (stage: Stage, id: string): JobsOptions => ({
  jobId: `${stage}-${id}`,
  attempts: ATTEMPTS[stage],
  backoff: { type: 'jittered' },
  removeOnComplete: { age: 24 * 3600, count: 5_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
  ...(stage === 'detail' ? { ignoreDependencyOnFailure: true } : {}),
});

const env = (name: string, fallback?: number) => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number`);
  return n;
};
const prefix = process.env.BARE_PREFIX ?? 'bare';
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const records = 3;

const producer = redisConnection(url, 'producer');
const connection = redisConnection(url, 'worker');
const search = new Queue('search', { connection: producer, prefix });
const authorize = new Queue('authorize', { connection: producer, prefix });
const flows = new FlowProducer({ connection: producer, prefix });

let reported = 0;
let waitFor = Infinity;
let onAllReported = () => {};
const concurrency = { worker: env('WORKER_CONCURRENCY', 4), detail: env('DETAIL_CONCURRENCY', 8) };
const workers = [
  new Worker('search', async (job) => void (await authorize.add('authorize', job.data, jobOptions('authorize', job.data.taskId))), { connection, prefix, concurrency: concurrency.worker }),
  new Worker(
    'authorize',
    async (job) => {
      const { taskId } = job.data as { taskId: string };
      await flows.add({
        name: 'report',
        queueName: 'report',
        data: { taskId },
        opts: jobOptions('report', taskId),
        children: Array.from({ length: records }, (_, i) => ({ name: 'detail', queueName: 'detail', data: { taskId, companyId: `c${i}` }, opts: jobOptions('detail', `${taskId}-c${i}`) })),
      });
    },
    { connection, prefix, concurrency: concurrency.worker },
  ),
  new Worker('detail', async () => undefined, { connection, prefix, concurrency: concurrency.detail }),
  new Worker(
    'report',
    async () => {
      if (++reported >= waitFor) onAllReported();
    },
    { connection, prefix, concurrency: concurrency.worker },
  ),
];
for (const w of workers) w.on('error', (err) => process.stderr.write(`bare graph worker: ${err.message}\n`));

/** Adds `count` tasks' search jobs (task ids `<round>-<n>`) and resolves once each task's report job has run. */
async function run(round: string, count: number): Promise<number> {
  reported = 0;
  waitFor = count;
  const all = new Promise<void>((resolve) => (onAllReported = resolve));
  const t0 = performance.now();
  for (let i = 0; i < count; i += 100) {
    const ids = Array.from({ length: Math.min(100, count - i) }, (_, k) => `${round}-${i + k}`);
    await search.addBulk(ids.map((taskId) => ({ name: 'search', data: { taskId }, opts: jobOptions('search', taskId) })));
  }
  await all;
  return (performance.now() - t0) / 1000;
}

const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function close() {
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all([search.close(), authorize.close(), flows.close()]);
  producer.disconnect();
  connection.disconnect();
}

async function main() {
  const warmS = await run('warm', env('BARE_WARMUP', 200));
  say({ warm: { tasks: env('BARE_WARMUP', 200), seconds: warmS } });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line === 'go') {
      const tasks = env('BARE_TASKS', 2000);
      say({ done: { tasks, jobs: tasks * (3 + records), seconds: await run('run', tasks) } });
    } else if (line === 'stop') break;
  }
  await close();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bare graph: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
