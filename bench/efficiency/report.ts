/**
 * The printed comparison: one column per layout, the issue's target beside each figure it names, marked
 * PASS or MISS (targets are goals, not checks: the exit status is about correctness only).
 */
import { QUEUE_NAMES } from '../../queues/names.ts';
import { EVENTS_STREAM_MAX_LEN } from '../../queues/options.ts';
import { LAYOUT_TITLE } from './layouts.ts';
import { RUNNER_TITLE } from './programs.ts';
import type { LayoutFigures } from './measure.ts';
import { TIMELINE_STEPS } from './timeline.ts';
import { percentile } from './stats.ts';

/** The issue's targets (issue 16). */
export const TARGETS = {
  cpuMsPerTask: 12,
  shareOfBare: 0.1,
  statementsPerTask: 30,
  flushingCommitsPerTask: 15,
  jobsPerTask: 7,
  aloneP50Ms: 50,
};

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
const kib = (bytes: number) => `${f(bytes / 1024)} KiB`;

type Row = [label: string, cells: string[], target?: string];

export function formatReport(layouts: LayoutFigures[], cores: number): string[] {
  const rows: Row[] = [];
  const each = (cell: (l: LayoutFigures) => string) => layouts.map(cell);
  const section = (label: string) => rows.push([label, layouts.map(() => '')]);

  section('throughput');
  rows.push([
    'tasks/s end to end (first POST → all work done)',
    each((l) => `${f(l.tasksPerS)} = ${f((100 * l.tasksPerS) / l.bare.tasksPerS, 1)} % ${mark(l.tasksPerS >= TARGETS.shareOfBare * l.bare.tasksPerS)}`),
    `≥ ${TARGETS.shareOfBare * 100} % of bare`,
  ]);
  rows.push(['bare BullMQ graph tasks/s, run just before', each((l) => f(l.bare.tasksPerS, 0))]);
  rows.push([`CPU-bound ceiling: ${cores} cores ÷ CPU per task`, each((l) => `${f((cores * 1000) / l.productCpuMs)} (bare ${f((cores * 1000) / (l.bare.cpuMs.process + l.bare.cpuMs.redis), 0)})`)]);
  rows.push(['tasks measured (window s)', each((l) => `${l.tasks} (${f(l.windowS)} s)`)]);
  rows.push(['load average 1 min (before → after)', each((l) => `${f(l.loadBefore)} → ${f(l.loadAfter)}`)]);

  section('product CPU per task, core-ms (warm; /proc and INFO)');
  rows.push(['total: processes + Redis + Postgres backends', each((l) => `${f(l.productCpuMs)} ${mark(l.productCpuMs <= TARGETS.cpuMsPerTask)}`), `≤ ${TARGETS.cpuMsPerTask}`]);
  // The machine's speed moves from run to run (a shared VM): the ratio to the bare graph, measured beside it, moves less.
  rows.push(['  in bare-graph tasks (total ÷ the bare graph\'s CPU a task)', each((l) => `${f(l.productCpuMs / (l.bare.cpuMs.process + l.bare.cpuMs.redis))}×`)]);
  rows.push(['  (bare graph: its process + Redis)', each((l) => `${f(l.bare.cpuMs.process + l.bare.cpuMs.redis, 2)} (${f(l.bare.cpuMs.process, 2)} + ${f(l.bare.cpuMs.redis, 2)})`)]);
  const names = [...new Set(layouts.flatMap((l) => l.processes.map((p) => p.name)))];
  const ofProcess = (l: LayoutFigures, name: string, figure: (p: LayoutFigures['processes'][number]) => number) => {
    const p = l.processes.find((x) => x.name === name);
    return p ? f(figure(p)) : '—';
  };
  for (const name of names) rows.push([`  ${name}`, each((l) => ofProcess(l, name, (p) => p.cpuMsPerTask))]);
  rows.push(['  Redis (server)', each((l) => f(l.redisCpuMs))]);
  rows.push(['  Postgres backends of the product', each((l) => `${f(l.postgresCpuMs)} (${l.postgresBackends} backends)`)]);
  rows.push(['  not counted: Postgres background, cluster-wide', each((l) => f(l.postgresBackgroundCpuMs))]);
  const idleMsPerS = (l: LayoutFigures) => l.processes.reduce((s, p) => s + p.idleMsPerS, 0) + l.redisIdle.msPerS;
  rows.push(['idle: processes + Redis, core-ms per second', each((l) => `${f(idleMsPerS(l))} (Redis ${f(l.redisIdle.callsPerS, 0)} commands/s)`)]);
  rows.push(['  by process, then Redis', each((l) => [...l.processes.map((p) => f(p.idleMsPerS)), f(l.redisIdle.msPerS)].join(' / '))]);
  rows.push(['  of the total above at the rate measured', each((l) => `${f(idleMsPerS(l) / l.tasksPerS)} per task`)]);
  rows.push(['  not counted: bench process (stand-ins, load)', each((l) => f(l.benchCpuMs))]);

  section('Postgres per task');
  rows.push(['SQL statements (not BEGIN/COMMIT/ROLLBACK)', each((l) => `${f(l.statements.query)} ${mark(l.statements.query <= TARGETS.statementsPerTask)}`), `≤ ${TARGETS.statementsPerTask}`]);
  for (const name of names) rows.push([`  ${name}`, each((l) => ofProcess(l, name, (p) => p.statementsPerTask))]);
  rows.push(['BEGIN / COMMIT / ROLLBACK sent', each((l) => `${f(l.statements.begin)} / ${f(l.statements.commit)} / ${f(l.statements.rollback)}`)]);
  rows.push([
    'WAL-flushing commits (our commit records)',
    each((l) => (l.wal ? `${f(l.wal.commits / l.tasks)} ${mark(l.wal.commits / l.tasks <= TARGETS.flushingCommitsPerTask)}` : 'n/a')),
    `≤ ${TARGETS.flushingCommitsPerTask}`,
  ]);
  rows.push(['transactions committed (pg_stat_database, ≈)', each((l) => `${f(l.transactions)} (+${f(l.rollbacks)} rolled back)`)]);
  rows.push(['WAL bytes, ours (pg_walinspect)', each((l) => (l.wal ? `${kib(l.wal.bytes / l.tasks)} (FPI ${kib(l.wal.fpiBytes / l.tasks)})` : 'n/a'))]);
  rows.push(['WAL bytes, cluster (pg_stat_wal, shared)', each((l) => kib(l.clusterWal.bytes))]);
  rows.push(['WAL writes / syncs, cluster (shared)', each((l) => `${f(l.clusterWal.writes)} / ${f(l.clusterWal.syncs)}`)]);
  rows.push(['rows inserted / updated / deleted (stats, ≈)', each((l) => `${f(l.rowsWritten.inserted)} / ${f(l.rowsWritten.updated)} / ${f(l.rowsWritten.deleted)}`)]);
  rows.push(['index entries inserted (WAL)', each((l) => (l.wal ? f(l.wal.indexInserts / l.tasks) : 'n/a'))]);
  const tables = [...new Set(layouts.flatMap((l) => [...(l.wal?.tables.keys() ?? [])].map((t) => t.replace(/^[^.]+\./, ''))))].sort();
  if (tables.length) rows.push(['row writes by table (WAL): ins / upd non-HOT / HOT / del / lock', layouts.map(() => '')]);
  for (const t of tables) {
    rows.push([
      `  ${t}`,
      each((l) => {
        const w = [...(l.wal?.tables ?? [])].find(([name]) => name.replace(/^[^.]+\./, '') === t)?.[1];
        return w ? [w.insert, w.update, w.hotUpdate, w.delete, w.lock].map((x) => f(x / l.tasks)).join(' / ') : '—';
      }),
    ]);
  }

  section('BullMQ and Redis per task');
  const jobsOf = (l: LayoutFigures) => [...l.jobs.values()].reduce((s, x) => s + x, 0);
  rows.push(['BullMQ jobs run', each((l) => `${f(jobsOf(l))} ${mark(jobsOf(l) <= TARGETS.jobsPerTask)}`), `≤ ${TARGETS.jobsPerTask}`]);
  rows.push([`  by queue (${QUEUE_NAMES.join(' / ')})`, each((l) => QUEUE_NAMES.map((q) => f(l.jobs.get(q) ?? 0)).join(' / '))]);
  rows.push(['  attempts put back (retry, waiting)', each((l) => f(l.jobAttemptsOther))]);
  rows.push(['Redis commands (scripts\' inner calls included)', each((l) => `${f(l.redisCalls, 0)} (bare ${f(l.bare.redisCalls, 0)})`)]);
  for (let i = 0; i < 8; i++) {
    if (!layouts.some((l) => l.redisTop[i])) break;
    rows.push([i === 0 ? '  most called' : '', each((l) => (l.redisTop[i] ? `${l.redisTop[i]![0]} ${f(l.redisTop[i]![1])}` : ''))]);
  }
  // Nothing of ours reads the queues' events streams; BullMQ trims each to about EVENTS_STREAM_MAX_LEN
  // (approximately: Redis drops whole stream nodes, so up to one node more stays).
  const unread = (l: LayoutFigures) => [...l.eventStreams.values()].reduce((s, x) => s + x, 0);
  const bounded = (l: LayoutFigures) => [...l.eventStreams.values()].every((n) => n <= 2 * EVENTS_STREAM_MAX_LEN);
  rows.push([
    'events streams nobody reads: entries kept (XLEN)',
    each((l) => `${unread(l)} ${mark(bounded(l))}`),
    `≈ ${EVENTS_STREAM_MAX_LEN} a queue at most`,
  ]);
  rows.push(['  by queue', each((l) => QUEUE_NAMES.map((q) => l.eventStreams.get(q) ?? 0).join(' / '))]);
  rows.push(['Redis memory kept (used_memory growth)', each((l) => kib(l.redisMemoryPerTask))]);

  section('latency');
  const aloneP50 = (l: LayoutFigures) => percentile(l.aloneMs, 50);
  rows.push([
    'submit → report, one task alone: p50 (p95)',
    each((l) => `${f(aloneP50(l), 0)} ms (${f(percentile(l.aloneMs, 95), 0)}) ${mark(aloneP50(l) <= TARGETS.aloneP50Ms)}`),
    `p50 ≤ ${TARGETS.aloneP50Ms} ms`,
  ]);
  rows.push(['  where it goes, step by step: p50 ms (timeline.ts)', each(() => '')]);
  for (const step of TIMELINE_STEPS) rows.push([`    ${step}`, each((l) => f(percentile(l.aloneSteps.get(step) ?? [], 50), 0))]);
  rows.push(['task under load: p50 / p95 / p99 (created → ended)', each((l) => `${f(l.latency.p50, 0)} / ${f(l.latency.p95, 0)} / ${f(l.latency.p99, 0)} ms`)]);
  rows.push(['POST /v1/tasks under load: p50 / p99', each((l) => `${f(l.postMs.p50, 0)} / ${f(l.postMs.p99, 0)} ms`)]);

  section('memory: RSS per process, now / peak (MiB)');
  for (const name of names) {
    rows.push([
      `  ${name}`,
      each((l) => {
        const p = l.processes.find((x) => x.name === name);
        return p ? `${f(p.rssMiB, 0)} / ${f(p.peakRssMiB, 0)}` : '—';
      }),
    ]);
  }

  section('books (the checks)');
  rows.push(['tasks completed', each((l) => `${l.books.completed}/${l.books.tasks}${l.books.notCompleted.size ? ` (${[...l.books.notCompleted].map(([c, n]) => `${c} ×${n}`).join(', ')})` : ''}`)]);
  rows.push(['paid records per task', each((l) => f(l.books.paidPerTask, 2))]);
  rows.push(['still reserved / over budget', each((l) => `${l.books.stillReserved} / ${l.books.overBudget}`)]);
  rows.push(['ledger = issuer (reconcile)', each((l) => (l.books.differences.length === 0 && l.books.checked === l.books.tasks ? `yes (${l.books.checked})` : `NO: ${l.books.differences[0] ?? `${l.books.checked}/${l.books.tasks} checked`}`))]);

  const labelW = Math.max(...rows.map((r) => r[0].length));
  const cellW = Math.max(18, ...rows.flatMap((r) => r[1].map((c) => c.length)));
  const header = `${''.padEnd(labelW)}  ${layouts.map((l) => (l.kind === 'split' ? 'split' : 'one process').padEnd(cellW)).join('  ')}  target`;
  const out = [header];
  for (const [label, cells, target] of rows) {
    const blank = cells.every((c) => c === '');
    out.push(blank ? label : `${label.padEnd(labelW)}  ${cells.map((c) => c.padEnd(cellW)).join('  ')}${target ? `  ${target}` : ''}`.trimEnd());
  }
  out.push('', ...layouts.map((l) => `${l.kind === 'split' ? 'split' : 'one process'}: ${LAYOUT_TITLE[l.kind]}, run from ${RUNNER_TITLE[l.runner]}`));
  out.push(
    'bare BullMQ graph: search → authorize → 3 detail children → report (6 jobs a task), trivial processors, the product\'s concurrency and its job options of before issue 16 (fixed), ' +
      `in a process of its own on the same Redis; ${layouts.map((l) => `before ${l.kind}: ${l.bare.tasks} tasks in ${f(l.bare.seconds, 2)} s, peak RSS ${f(l.bare.peakRssMiB, 0)} MiB`).join('; ')}`,
  );
  return out;
}
