import { Counter, Histogram, Registry } from 'prom-client';
import { activeSpan, ATTR } from './tracing.ts';
import { formatMoney } from '../money.ts';

/**
 * What the pipeline does, measured where it happens: stage jobs (duration, queue wait), provider
 * calls (latency, errors), money moved and tasks ended. One registry per process, since the workers,
 * the provider clients and the books are one per process: the gateway's /metrics serves it beside its
 * own (apps/gateway/metrics.ts), and a worker process serves it on WORKER_HTTP_PORT
 * (apps/runtime/worker-http.ts). In a deployment of separate processes, each counts what it did;
 * Prometheus adds them up (`sum by (…)`).
 */
export const pipelineRegistry = new Registry();

const jobDuration = new Histogram({
  name: 'arp_job_duration_seconds',
  help: 'How long one attempt of a stage job ran, by queue and outcome (completed, retry, failed, waiting: put back while a dependency is down)',
  labelNames: ['queue', 'outcome'],
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [pipelineRegistry],
});

const jobWait = new Histogram({
  name: 'arp_job_wait_seconds',
  help: 'How long a job waited in its queue before a worker took it: first deliveries of jobs that were ready when added (a retry waits its backoff on purpose; a report waits for its detail children)',
  labelNames: ['queue'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [pipelineRegistry],
});

const providerLatency = new Histogram({
  name: 'arp_provider_request_duration_seconds',
  help: 'Latency of one HTTP call to a provider (each try of a read counts), by provider and operation',
  labelNames: ['provider', 'operation'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [pipelineRegistry],
});

const providerErrors = new Counter({
  name: 'arp_provider_errors_total',
  help: "Provider calls that failed, by provider, operation and code: the provider's error code (or http_<status>), timeout or unreachable",
  labelNames: ['provider', 'operation', 'code'],
  registers: [pipelineRegistry],
});

const moneyMoved = new Counter({
  name: 'arp_money_moved_fen_total',
  help: 'Money moved in the ledger, by kind (reserve, capture, release, refund), in fen (CNY minor units)',
  labelNames: ['kind'],
  registers: [pipelineRegistry],
});

const tasksEnded = new Counter({
  name: 'arp_tasks_ended_total',
  help: 'Tasks that ended, by status (completed, failed, cancelled)',
  labelNames: ['status'],
  registers: [pipelineRegistry],
});

export type JobOutcome = 'completed' | 'retry' | 'failed' | 'waiting';

export function observeJob(queue: string, outcome: JobOutcome, seconds: number): void {
  jobDuration.observe({ queue, outcome }, seconds);
}

export function observeQueueWait(queue: string, seconds: number): void {
  jobWait.observe({ queue }, Math.max(0, seconds));
}

/** The most distinct error codes kept per provider; codes past it count as `other` (a provider chooses them). */
const MAX_CODES = 40;
const codesSeen = new Map<string, Set<string>>();

/** An error code fit for a label: a provider's own code is kept if it looks like one and there is room. */
function labelCode(provider: string, code: string): string {
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(code)) return 'other';
  let seen = codesSeen.get(provider);
  if (!seen) codesSeen.set(provider, (seen = new Set()));
  if (seen.has(code)) return code;
  if (seen.size >= MAX_CODES) return 'other';
  seen.add(code);
  return code;
}

/** One provider call: its latency, and its error code when it failed. */
export function observeProviderCall(provider: string, operation: string, seconds: number, errorCode?: string): void {
  providerLatency.observe({ provider, operation }, seconds);
  if (errorCode !== undefined) providerErrors.inc({ provider, operation, code: labelCode(provider, errorCode) });
}

export type MoneyKind = 'reserve' | 'capture' | 'release' | 'refund';

/**
 * One money movement that committed in the ledger (called once per ledger row, by the books): counted
 * here, and noted on the active span (the stage job's) as an event with its kind and amount.
 */
export function moneyMovedNow(kind: MoneyKind, fen: number): void {
  if (!Number.isSafeInteger(fen) || fen <= 0) return;
  moneyMoved.inc({ kind }, fen);
  activeSpan()?.addEvent(`money.${kind}`, { [ATTR.moneyKind]: kind, [ATTR.moneyFen]: fen, [ATTR.moneyAmount]: formatMoney(fen), [ATTR.moneyCurrency]: 'CNY' });
}

/** A task ended (counted once: by the one call that ended it). */
export function taskEnded(status: 'completed' | 'failed' | 'cancelled'): void {
  tasksEnded.inc({ status });
  activeSpan()?.addEvent('task.ended', { 'arp.task.status': status });
}

const dbStatements = new Counter({
  name: 'arp_db_statements_total',
  help: 'SQL statements this process sent to Postgres, by kind: query (anything but transaction control), begin, commit, rollback',
  labelNames: ['kind'],
  registers: [pipelineRegistry],
});
const dbStatementKinds = { query: dbStatements.labels('query'), begin: dbStatements.labels('begin'), commit: dbStatements.labels('commit'), rollback: dbStatements.labels('rollback') };

/** One statement sent to Postgres (shared/db/statements.ts counts them at the client). */
export function statementSent(kind: keyof typeof dbStatementKinds): void {
  dbStatementKinds[kind].inc();
}
