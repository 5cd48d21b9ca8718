/**
 * `npm run bench:telemetry`: what observability costs per operation, with tracing off (the default) and
 * on. Off, the hooks on the hot paths (a span around each provider and database call, the attributes
 * of each stage job, the trace ids of each log line) must cost next to nothing: no SDK is loaded, each
 * helper is a boolean test. On, it measures a span's real cost with an exporter that drops its batches.
 * Prints nanoseconds per operation; no network, no Redis, no Postgres.
 */
import { Writable } from 'node:stream';
import { childWith, createLogger } from '../shared/log.ts';
import { annotate, inSpan, tracingOn } from '../shared/telemetry/tracing.ts';
import { moneyMovedNow } from '../shared/telemetry/metrics.ts';

const N = 200_000;

async function nsPerOp(label: string, op: () => unknown, n = N): Promise<number> {
  for (let i = 0; i < 2_000; i++) await op(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await op();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns/op`);
  return ns;
}

const devNull = new Writable({ write: (_c, _e, done) => done() });
const work = async () => 1;

async function round(mode: string) {
  console.log(`\n— tracing ${mode} (tracingOn() = ${tracingOn()})`);
  // Made here, as programs make theirs after tracing has started (the trace-id mixin is decided then).
  const log = createLogger('info', 'bench', devNull);
  const base = await nsPerOp('a bare async call (baseline)', () => work());
  const span = await nsPerOp('the same call through inSpan (provider/db call wrapper)', () => inSpan('bench', {}, work));
  console.log(`${'  → wrapper cost'.padEnd(58)} ${(span - base).toFixed(0).padStart(7)} ns/op`);
  await nsPerOp('annotate (stage job attributes)', () => annotate({ 'arp.task.id': 't', 'arp.stage': 'detail' }));
  await nsPerOp('moneyMovedNow (counter + span event)', () => moneyMovedNow('capture', 1200));
  const line = await nsPerOp('a log line outside any scope', () => log.info({ a: 1 }, 'line'), N / 4);
  const job = childWith(log, { taskId: '0b0e6c1e-6a40-4b55-9d3f-4c9e5d1f2a3b', stage: 'detail', jobId: 'detail-x' });
  const scoped = await inSpan('job', {}, () => nsPerOp('a log line of a stage job (task id; trace id when on)', () => job.info({ a: 1 }, 'line'), N / 4));
  console.log(`${'  → per line'.padEnd(58)} ${(scoped - line).toFixed(0).padStart(7)} ns/op`);
}

await round('off');
// On: the SDK with an exporter that sends nowhere (a local port that accepts and drops), so only our side is measured.
const { createServer } = await import('node:http');
const sink = createServer((req, res) => req.resume().on('end', () => res.writeHead(200).end('{}')));
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
const { startTracing, stopTracing } = await import('../shared/telemetry/sdk.ts');
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
await startTracing('bench');
await round('on');
await stopTracing();
sink.close();
