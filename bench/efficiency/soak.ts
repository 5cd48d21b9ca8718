/**
 * `--soak S`: one layout at a steady rate for S seconds. Redis memory and keys, Postgres table and index
 * sizes, and each process's RSS are sampled as tasks pile up; each is then read as flat or as growing
 * with the history kept (bytes per task, from a line fitted over the samples). No error may appear: no
 * refused POST, no error logged, no process lost, every task completed, the books reconcile.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { booksOk, checkBooks, layoutEnv, providerStandIns, queuePrefixOf, type Bench, type Books } from './bench.ts';
import { LAYOUT_TITLE, startLayout, type LayoutKind } from './layouts.ts';
import { postAtRate, postTasks, Tenants, waitDone, type Posted } from './load.ts';
import { productBackends, schemaSizes } from './postgres.ts';
import { cpuSeconds, CpuLedger, rssMiB } from './proc.ts';
import { RUNNER_TITLE } from './programs.ts';
import { QUEUE_NAMES } from '../../queues/names.ts';
import { memoryByKind, redisInfo, type KeyKind } from './redis.ts';
import { percentile, verdict } from './stats.ts';

interface Sample {
  s: number;
  posted: number;
  ended: number;
  redisBytes: number;
  redisKeys: number;
  tables: number;
  indexes: number;
  byTable: Map<string, number>;
  rss: number[];
}

const bytes = (n: number) => (Math.abs(n) >= 1024 * 1024 ? `${(n / 2 ** 20).toFixed(2)} MiB` : Math.abs(n) >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n.toFixed(0)} B`);

export async function soak(bench: Bench, kind: LayoutKind, flags: { soakS: number; rate: number; sampleS: number; warmup: number; concurrency: number; timeLimitMs: number }, log: (line: string) => void): Promise<{ lines: string[]; ok: boolean }> {
  const schema = `soak_${kind}`;
  const prefix = queuePrefixOf(bench, schema);
  const tenants = new Tenants('k', flags.warmup + Math.ceil(flags.soakS * flags.rate * 1.05) + 10, `bench-${bench.runId}`);
  const mocks = await providerStandIns(bench.runId);
  try {
    const layout = await startLayout(kind, bench.forceTsx, layoutEnv(bench, schema, mocks, [tenants]), bench.admin);
    let books: Books;
    let redisKinds = new Map<KeyKind, { bytes: number; keys: number }>();
    const samples: Sample[] = [];
    const posted: Posted = { ids: [], postMs: [], refused: [], retried: 0 };
    let finished = false;
    const load0 = loadavg()[0]!;
    // The product's CPU over the soak (its processes, Redis, the Postgres backends serving it), idle moments included.
    const backends = new CpuLedger();
    let cpu = { processes: 0, redis: 0, postgres: 0 };
    try {
      const warm = await postTasks(layout.base, tenants, bench.runId, flags.warmup, flags.concurrency, performance.now() + flags.timeLimitMs);
      await waitDone({ db: bench.db.own, schema, redis: bench.probe, prefix, own: bench.own, deadline: performance.now() + flags.timeLimitMs });
      posted.refused.push(...warm.refused);
      log(`soak: ${LAYOUT_TITLE[kind]}, ${flags.rate} tasks/s for ${flags.soakS} s, sampled every ${flags.sampleS} s`);

      const cpu0 = layout.processes.map((p) => cpuSeconds(p.program.pid));
      const redisCpu0 = (await redisInfo(bench.probe)).cpuSeconds;
      backends.start(await productBackends(bench.db));
      const t0 = performance.now();
      const take = async () => {
        backends.sample(await productBackends(bench.db));
        const [row] = await bench.db.own.query<{ n: string }>(`select count(*) as n from "${schema}".tasks where ended_at is not null`);
        const info = await redisInfo(bench.probe);
        const sizes = await schemaSizes(bench.db, schema);
        samples.push({
          s: (performance.now() - t0) / 1000,
          posted: posted.ids.length,
          ended: Number(row!.n),
          redisBytes: info.usedMemory,
          redisKeys: info.keys,
          tables: sizes.tables,
          indexes: sizes.indexes,
          byTable: sizes.byTable,
          rss: layout.processes.map((p) => rssMiB(p.program.pid)),
        });
      };
      await take();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await new Promise((r) => setTimeout(r, flags.sampleS * 1000));
          if (sampling) {
            await take();
            const last = samples.at(-1)!;
            log(`  ${last.s.toFixed(0)} s: ${last.ended} tasks ended, Redis ${bytes(last.redisBytes)}, Postgres ${bytes(last.tables + last.indexes)}, RSS ${last.rss.map((r) => r.toFixed(0)).join('/')} MiB`);
          }
        }
      })();
      try {
        await postAtRate(layout.base, tenants, bench.runId, flags.rate, t0 + flags.soakS * 1000, posted);
        finished = await waitDone({ db: bench.db.own, schema, redis: bench.probe, prefix, own: bench.own, deadline: performance.now() + flags.timeLimitMs });
      } finally {
        sampling = false;
        await sampler;
      }
      await take();
      cpu = {
        processes: layout.processes.reduce((sum, p, i) => sum + cpuSeconds(p.program.pid) - cpu0[i]!, 0),
        redis: (await redisInfo(bench.probe)).cpuSeconds - redisCpu0,
        postgres: backends.total().seconds,
      };
      redisKinds = await memoryByKind(bench.probe, prefix, QUEUE_NAMES);
    } finally {
      await layout.stop();
    }
    books = await checkBooks(bench, schema, mocks);
    const latencies = (
      await bench.db.own.query<{ ms: number }>(`select extract(epoch from (ended_at - created_at)) * 1000 as ms from "${schema}".tasks where id = any($1::uuid[]) and ended_at is not null`, [posted.ids])
    ).map((r) => Number(r.ms));

    const xs = samples.map((s) => s.ended);
    const first = samples[0]!;
    const last = samples.at(-1)!;
    const tasks = last.ended - first.ended;
    const perTask = (a: number, b: number) => bytes((b - a) / Math.max(1, tasks));
    // The backlog at the last sample taken while posting, against the middle one's.
    const whilePosting = samples.filter((x) => x.s <= flags.soakS);
    const backlogOf = (x: Sample) => x.posted + flags.warmup - x.ended;
    const backlogGrew = whilePosting.length >= 4 && backlogOf(whilePosting.at(-1)!) > Math.max(2 * flags.rate * flags.sampleS, 2 * backlogOf(whilePosting[Math.floor(whilePosting.length / 2)]!));
    const problems: string[] = [];
    if (!finished) problems.push('the work was not done within --time-limit after the soak');
    if (posted.refused.length) problems.push(`${posted.refused.length} POST(s) refused, e.g. ${posted.refused[0]}`);
    for (const p of layout.processes) {
      const e = p.program.errors();
      if (e.count) problems.push(`${p.name} logged ${e.count} error(s), e.g. ${e.last[0]}`);
      if (p.program.exited() && !finished) problems.push(`${p.name} exited during the soak`);
    }
    const coreMs = (seconds: number) => ((seconds * 1000) / Math.max(1, posted.ids.length)).toFixed(1);
    const lines = [
      `soak: ${LAYOUT_TITLE[kind]}, run from ${RUNNER_TITLE[layout.runner]}; ${posted.ids.length} tasks posted at ${flags.rate}/s over ${flags.soakS} s (after ${flags.warmup} to warm up), ${samples.length} samples; load average ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`,
      `  backlog (posted, not ended) ${Math.max(0, first.posted - first.ended + flags.warmup)} → ${Math.max(0, last.posted - last.ended + flags.warmup)}, at most ${Math.max(...samples.map((x) => x.posted + flags.warmup - x.ended))}${
        backlogGrew ? ': the rate is above what this machine sustains, so the figures below include a growing backlog (try a lower --rate)' : ''
      }`,
      `  Redis used memory     ${bytes(first.redisBytes)} → ${bytes(last.redisBytes)}: ${verdict(xs, samples.map((s) => s.redisBytes), bytes)}`,
      `  Redis keys            ${first.redisKeys} → ${last.redisKeys}: ${verdict(xs, samples.map((s) => s.redisKeys), (n) => n.toFixed(2))}`,
      `  Redis at the end, by kind (MEMORY USAGE): ${[...redisKinds]
        .sort((a, b) => b[1].bytes - a[1].bytes)
        .map(([kind, { bytes: n, keys }]) => `${kind} ${bytes(n)} (${keys} keys)`)
        .join(', ')}`,
      `  Postgres tables       ${bytes(first.tables)} → ${bytes(last.tables)} (${perTask(first.tables, last.tables)} per task): ${verdict(xs, samples.map((s) => s.tables), bytes)}`,
      `  Postgres indexes      ${bytes(first.indexes)} → ${bytes(last.indexes)} (${perTask(first.indexes, last.indexes)} per task): ${verdict(xs, samples.map((s) => s.indexes), bytes)}`,
      `  by table (with its indexes), per task: ${[...last.byTable]
        .map(([t, b]) => [t, (b - (first.byTable.get(t) ?? 0)) / Math.max(1, tasks)] as const)
        .filter(([, b]) => b > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([t, b]) => `${t} ${bytes(b)}`)
        .join(', ')}`,
      ...layout.processes.map((p, i) => `  RSS ${p.name.padEnd(17)} ${first.rss[i]!.toFixed(0)} → ${last.rss[i]!.toFixed(0)} MiB: ${verdict(xs, samples.map((s) => s.rss[i]!), (n) => `${(n * 1024).toFixed(1)} KiB`)}`),
      `  product CPU per task at ${flags.rate}/s, idle moments included: ${coreMs(cpu.processes + cpu.redis + cpu.postgres)} core-ms (processes ${coreMs(cpu.processes)}, Redis ${coreMs(cpu.redis)}, Postgres backends ${coreMs(cpu.postgres)})`,
      `  task latency p50 / p95 / p99: ${percentile(latencies, 50).toFixed(0)} / ${percentile(latencies, 95).toFixed(0)} / ${percentile(latencies, 99).toFixed(0)} ms; POST p50 ${percentile(posted.postMs, 50).toFixed(0)} ms`,
      `  books: ${books.completed}/${books.tasks} completed, ${books.stillReserved} still reserved, ledger = issuer: ${books.differences.length === 0 && books.checked === books.tasks ? 'yes' : `NO (${books.differences[0] ?? 'not every task checked'})`}`,
      `  errors: ${problems.length ? problems.join('; ') : 'none'}`,
    ];
    return { lines, ok: finished && booksOk(books) && problems.length === 0 };
  } finally {
    await mocks.close();
  }
}
