import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, inject, it } from 'vitest';
import { pipelineRegistry } from '../telemetry/metrics.ts';
import { openDatabase } from './index.ts';

const databaseUrl = inject('databaseUrl');

async function counts(): Promise<Record<string, number>> {
  const metric = await pipelineRegistry.getSingleMetric('arp_db_statements_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.kind), v.value]));
}

describe.skipIf(!databaseUrl)('statements sent to Postgres', () => {
  it('are counted by kind (arp_db_statements_total): queries, and the transactions that carry them', async () => {
    const db = await openDatabase({ databaseUrl, schema: `t_stmt_${randomBytes(4).toString('hex')}`, dataDir: '/tmp', poolSize: 2 });
    try {
      const before = await counts();
      await sql`select 1`.execute(db.db);
      await db.db.transaction().execute(async (trx) => {
        await sql`select 2`.execute(trx);
        await sql`select 3`.execute(trx);
      });
      await db.db
        .transaction()
        .execute(async (trx) => {
          await sql`select 4`.execute(trx);
          throw new Error('roll it back');
        })
        .catch(() => {});
      const after = await counts();
      const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
      expect({ query: delta('query'), begin: delta('begin'), commit: delta('commit'), rollback: delta('rollback') }).toEqual({ query: 4, begin: 2, commit: 1, rollback: 1 });
    } finally {
      await db.close();
    }
  });
});
