import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keyringFrom } from '../../shared/crypto/keyring.ts';
import { repositories } from '../../shared/db/index.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { FIRST_ATTEMPT, issuerCharges, readyForDetail } from '../../test/support/stages.ts';
import type { StageDeps } from '../deps.ts';
import { processDetail } from './processor.ts';
import { statementsSentByKind } from '../../test/support/statements.ts';

/**
 * What one detail job costs the database (issue 16): a fresh purchase that is delivered sends four
 * statements — one read of all the job needs, then the claim with the reservation (in a transaction, so
 * a refusal rolls it back), the capture with the receipt, the delivery — and so makes three commits
 * that write. A record from memory costs a read and one write; a redelivered job that finds its
 * purchase done, one read.
 */
const databaseUrl = inject('databaseUrl');

/** Notes each statement the repositories send: a read, or a write (insert, update, delete anywhere in it). */
class Recorder implements KyselyPlugin {
  sent: Array<'read' | 'write'> = [];
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    this.sent.push(writes(node) ? 'write' : 'read');
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

function writes(node: RootOperationNode): boolean {
  if (node.kind === 'InsertQueryNode' || node.kind === 'UpdateQueryNode' || node.kind === 'DeleteQueryNode') return true;
  return node.kind === 'RawNode' && /\b(insert|update|delete)\b/i.test(node.sqlFragments.join(' '));
}

describe.skipIf(!databaseUrl)('detail: statements and commits per job', () => {
  let h: Harness;
  let recorder: Recorder;
  let deps: StageDeps;
  beforeAll(async () => {
    h = await openHarness();
    recorder = new Recorder();
    const repos = repositories({ ...h.database, db: h.database.db.withPlugin(recorder) }, keyringFrom(h.config.DATA_ENCRYPTION_KEYS));
    deps = { ...h.deps, repos };
  });
  afterAll(async () => h?.close());

  /** Runs one detail job and says what it sent: the statements in order, and the transaction control around them. */
  async function measured(taskId: string, companyId: string) {
    recorder.sent = [];
    const before = await statementsSentByKind();
    const result = await processDetail({ taskId, companyId }, deps, FIRST_ATTEMPT);
    const after = await statementsSentByKind();
    const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
    return { result, statements: recorder.sent, sent: { query: delta('query'), begin: delta('begin'), commit: delta('commit'), rollback: delta('rollback') } };
  }

  it('a fresh purchase that is delivered: 4 statements (a read, then 3 writes), one of them in a transaction: 3 commits', async () => {
    const { taskId, companyIds } = await readyForDetail(h, { theme: 'battery' });
    const companyId = companyIds[0]!;
    const run = await measured(taskId, companyId);
    expect(run.result).toEqual({ outcome: 'bought', companyId });
    expect(run.statements).toEqual(['read', 'write', 'write', 'write']);
    expect(run.sent).toEqual({ query: 4, begin: 1, commit: 1, rollback: 0 });
    expect(await issuerCharges(h, taskId)).toHaveLength(1);
    expect((await h.repos.payments.forTask(taskId))[0]).toMatchObject({ state: 'delivered' });

    // Redelivered once done: one read, nothing written.
    const again = await measured(taskId, companyId);
    expect(again.result).toEqual({ outcome: 'bought', companyId });
    expect(again.statements).toEqual(['read']);
    expect(again.sent).toEqual({ query: 1, begin: 0, commit: 0, rollback: 0 });
  });

  it('a record from memory: a read and one write (the company reused with its link to the purchase)', async () => {
    const a = await readyForDetail(h, { theme: 'solar' });
    const companyId = a.companyIds[0]!;
    await processDetail({ taskId: a.taskId, companyId }, deps, FIRST_ATTEMPT);
    const b = await readyForDetail(h, { theme: 'solar' });
    const run = await measured(b.taskId, companyId);
    expect(run.result).toEqual({ outcome: 'reused', companyId });
    expect(run.statements).toEqual(['read', 'write']);
    expect(run.sent).toEqual({ query: 2, begin: 0, commit: 0, rollback: 0 });
    expect(await h.repos.companies.get(b.taskId, companyId)).toMatchObject({ status: 'reused' });
    expect(await h.repos.payments.forTask(b.taskId)).toEqual([expect.objectContaining({ amount: 0, state: 'delivered' })]);
  });
});
