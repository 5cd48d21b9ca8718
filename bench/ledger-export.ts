/**
 * `npm run bench:ledger [-- --rows 1000000]` (run with --expose-gc, as the script does, to see the live heap): the finance export (GET /admin/ledger.csv) of a ledger of
 * N movements, over HTTP against the real Postgres. It fills a schema of its own with N ledger rows
 * (generated in SQL: 10 movements a payment, 100 payments a task), serves the gateway on a free loopback
 * port, downloads the CSV while sampling this process's memory, checks that every row arrived in booking
 * order, prints rows/s and the memory it took, and drops the schema. Memory should not grow with N: the
 * export holds one page (EXPORT_PAGE_ROWS) at a time.
 *
 * Exit 0: every row arrived in order; 1: it did not; 2: it could not run.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { createApp } from '../apps/gateway/app.ts';
import { serveApp } from '../apps/runtime/serve.ts';
import { deletePrefix, redisConnection } from '../queues/connection.ts';
import { Producer } from '../queues/producer.ts';
import { loadConfig } from '../shared/config.ts';
import { keyringFrom } from '../shared/crypto/keyring.ts';
import { dropSchema, migrate, openDatabase, repositories } from '../shared/db/index.ts';
import { createLogger } from '../shared/log.ts';

const USAGE = 'usage: npm run bench:ledger [-- --rows N (1000-5000000, default 1000000)]; needs DATABASE_URL; REDIS_URL defaults to redis://127.0.0.1:6379';
const MiB = 1024 * 1024;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { rows: { type: 'string' } } });
  const rows = Number(values.rows ?? 1_000_000);
  if (!Number.isSafeInteger(rows) || rows < 1000 || rows > 5_000_000 || !process.env.DATABASE_URL) {
    console.error(USAGE);
    return 2;
  }
  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    DATABASE_URL: process.env.DATABASE_URL,
    DATABASE_SCHEMA: `bench_ledger_${id}`,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: `bench-ledger-${id}`,
    ADMIN_PASSWORD: 'bench-admin',
    LOG_LEVEL: 'warn',
  });
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, dataDir: config.DATA_DIR, poolSize: 4 });
  const redis = redisConnection(config.REDIS_URL!, 'producer');
  const producer = new Producer(redis, config.QUEUE_PREFIX);
  try {
    await migrate(database);
    const payments = Math.ceil(rows / 10);
    const tasks = Math.ceil(payments / 100);
    let started = performance.now();
    await sql`insert into tasks (id, tenant, theme, voice_id, currency, max_companies, status, budget_limit)
              select ('00000000-0000-4000-8000-' || lpad(to_hex(t), 12, '0'))::uuid, 'tenant-' || (t % 50), 'bench', 'v', 'CNY', 5, 'completed', 10000000
              from generate_series(1, ${tasks}::int) t`.execute(database.db);
    await sql`insert into payments (id, task_id, company_id, tenant, resource, amount, idempotency_key, state, charge_id)
              select p, ('00000000-0000-4000-8000-' || lpad(to_hex((p - 1) / 100 + 1), 12, '0'))::uuid, 'C' || p, 'tenant-' || (((p - 1) / 100 + 1) % 50),
                     '/company/detail?id=C' || p, 1234, 'arp-bench-' || p, 'delivered', 'ch_' || p
              from generate_series(1, ${payments}::int) p`.execute(database.db);
    await sql`insert into ledger_entries (task_id, payment_id, kind, amount, event_key, created_at)
              select p.task_id, p.id, (array['reserve','capture','refund','release'])[1 + (n % 4)], 1 + (n * 7) % 2000,
                     p.idempotency_key || ':' || n, now() - make_interval(secs => ${rows}::int - ((p.id - 1) * 10 + n))
              from payments p, generate_series(0, 9) n
              where (p.id - 1) * 10 + n < ${rows}::int`.execute(database.db);
    await sql`analyze`.execute(database.db);
    console.log(`filled: ${rows} ledger rows, ${payments} payments, ${tasks} tasks in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const repos = repositories(database, keyringFrom(undefined));
    const app = createApp({ repos, database, producer, redis, log: createLogger('warn', 'bench'), config });
    const server = await serveApp(app, 0, '127.0.0.1');
    try {
      global.gc?.();
      const before = process.memoryUsage();
      let peakRss = before.rss;
      let peakHeap = before.heapUsed;
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        peakRss = Math.max(peakRss, m.rss);
        peakHeap = Math.max(peakHeap, m.heapUsed);
      }, 50);
      started = performance.now();
      const res = await fetch(`http://127.0.0.1:${server.port}/admin/ledger.csv`, { headers: { authorization: `Basic ${Buffer.from('admin:bench-admin').toString('base64')}` } });
      if (res.status !== 200) throw new Error(`GET /admin/ledger.csv answered ${res.status}`);
      const decoder = new TextDecoder();
      let bytes = 0;
      let lines = 0;
      let lastId = 0;
      let ordered = true;
      let rest = '';
      // Live heap (after a full collection) at each tenth of the download: flat if the export holds a page at a time.
      const live: number[] = [];
      for await (const chunk of res.body!) {
        bytes += chunk.byteLength;
        if (global.gc && lines >= ((live.length + 1) * rows) / 10) {
          global.gc();
          live.push(process.memoryUsage().heapUsed);
        }
        const text = rest + decoder.decode(chunk, { stream: true });
        const parts = text.split('\r\n');
        rest = parts.pop()!;
        for (const line of parts) {
          lines++;
          if (lines === 1) continue; // header
          const ledgerId = Number(line.slice(line.lastIndexOf(',') + 1));
          if (!(ledgerId > lastId)) ordered = false;
          lastId = ledgerId;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      const dataRows = lines - 1;
      console.log(
        `exported: ${dataRows} rows, ${(bytes / MiB).toFixed(1)} MiB in ${seconds.toFixed(1)} s (${Math.round(dataRows / seconds)} rows/s); ` +
          `memory of the process serving and reading it: RSS ${(before.rss / MiB).toFixed(0)} → peak ${(peakRss / MiB).toFixed(0)} MiB, heap ${(before.heapUsed / MiB).toFixed(0)} → peak ${(peakHeap / MiB).toFixed(0)} MiB`,
      );
      if (live.length) console.log(`live heap after GC at each tenth: ${live.map((b) => (b / MiB).toFixed(1)).join(', ')} MiB`);
      const ok = ordered && dataRows === rows;
      console.log(ok ? 'check: every row arrived, in booking order' : `check FAILED: ${dataRows} of ${rows} rows, ordered: ${ordered}`);
      return ok ? 0 : 1;
    } finally {
      await server.close();
    }
  } finally {
    await producer.close();
    await deletePrefix(redis, config.QUEUE_PREFIX);
    await redis.quit();
    await dropSchema(database);
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench:ledger could not run: ${(err as Error).message}`);
    process.exit(2);
  },
);
