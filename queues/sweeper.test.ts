import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../test/support/harness.ts';
import { FIRST_ATTEMPT, readyForDetail } from '../test/support/stages.ts';
import { processDetail } from './detail/processor.ts';
import { processReport } from './report/processor.ts';
import { sweep } from './sweeper.ts';

/** The sweeper applies the memory's retention (MEMORY_RETENTION): older records and their copies are deleted. */
describe('sweeper: memory retention', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ env: { MEMORY_RETENTION: String(30 * 86_400) } });
  });
  afterAll(async () => h?.close());

  it('deletes records bought before the retention and the copies on tasks that ended before it; keeps the rest', async () => {
    const old = await readyForDetail(h, { theme: 'solar', maxCompanies: 1 });
    await processDetail({ taskId: old.taskId, companyId: old.companyIds[0]! }, h.deps, FIRST_ATTEMPT);
    await processReport({ taskId: old.taskId }, h.deps, FIRST_ATTEMPT);
    const recent = await readyForDetail(h, { theme: 'biotech', maxCompanies: 1 });
    await processDetail({ taskId: recent.taskId, companyId: recent.companyIds[0]! }, h.deps, FIRST_ATTEMPT);
    await sql`update memory_records set bought_at = now() - interval '31 days' where task_id = ${old.taskId}`.execute(h.database.db);
    await sql`update tasks set ended_at = now() - interval '31 days' where id = ${old.taskId}`.execute(h.database.db);

    // A sweep without retention (the hour has not come round) leaves them.
    expect(await sweep(h.deps, 60_000, { retention: false })).toMatchObject({ memoryPurged: 0, copiesPurged: 0 });
    expect(await h.repos.memory.newest('acme', old.companyIds[0]!)).toBeDefined();

    expect(await sweep(h.deps, 60_000)).toMatchObject({ memoryPurged: 1, copiesPurged: 1 });
    expect(await h.repos.memory.newest('acme', old.companyIds[0]!)).toBeUndefined();
    expect((await h.repos.companies.get(old.taskId, old.companyIds[0]!))!.detail).toBeNull();
    // The money is untouched; the recent record and its copy stay.
    expect((await h.repos.payments.forTask(old.taskId))[0]).toMatchObject({ state: 'delivered' });
    expect(await h.repos.memory.newest('acme', recent.companyIds[0]!)).toMatchObject({ taskId: recent.taskId });
    expect((await h.repos.companies.get(recent.taskId, recent.companyIds[0]!))!.detail).not.toBeNull();
  });
});
