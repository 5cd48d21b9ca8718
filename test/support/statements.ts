import { pipelineRegistry } from '../../shared/telemetry/metrics.ts';

/** What a piece of work sent to Postgres: its statements (transaction control apart) and its explicit transactions. */
export interface StatementCount {
  statements: number;
  transactions: number;
}

/** The statements this process has sent to Postgres so far, by kind (arp_db_statements_total: query, begin, commit, rollback). */
export async function statementsSentByKind(): Promise<Record<string, number>> {
  const metric = await pipelineRegistry.getSingleMetric('arp_db_statements_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.kind), v.value]));
}

/**
 * Runs `work` and tells what it sent to Postgres, read from the process's own counter
 * (arp_db_statements_total, counted at the pooled client: Postgres only, PGlite is not counted). Nothing
 * else of the process may use the database meanwhile: a harness without workers, one call at a time.
 */
export async function statementsOf<T>(work: () => Promise<T>): Promise<StatementCount & { result: T }> {
  const before = await statementsSentByKind();
  const result = await work();
  const after = await statementsSentByKind();
  const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
  return { result, statements: delta('query'), transactions: delta('begin') };
}
