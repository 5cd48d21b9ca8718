import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../start/redis.ts';
import { formatMoney, parseMoney } from '../../shared/money.ts';
import { runCli as runProgram } from '../../test/support/cli.ts';
import { runReconcile } from './reconcile-command.ts';
import { ISSUER_KEY, openHarness, postTask, runningTask, waitForEnd, type Harness } from '../../test/support/harness.ts';

/**
 * `npm run reconcile [-- <taskId>] [--json]` against a real Postgres schema and the issuer mock's books
 * (DESIGN.md §3, §6): exit 0 when the books agree, 1 when they differ, 2 when it could not check.
 * PGlite serves one process only, so the CLI needs a real Postgres.
 */
describe.skipIf(!inject('databaseUrl'))('npm run reconcile', () => {
  let h: Harness;
  let env: Record<string, string>;
  let issuerUrl: string;
  let taskA: string;
  let taskB: string;
  let spentA: number;
  let spentB: number;

  /** The command in-process (its code, output and exit code are the program's; reconcile.ts only runs it). */
  async function cli(args: string[], overrides: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await runReconcile(args, { ...env, ...overrides }, { out: { write: (t: string) => (stdout += t) }, err: { write: (t: string) => (stderr += t) } });
    return { code, stdout, stderr };
  }
  /** `npm run reconcile` as its own process, as an operator runs it. */
  const program = (args: string[], overrides: Record<string, string> = {}) => runProgram('apps/cli/reconcile.ts', args, { ...env, ...overrides });

  /** A call to the issuer mock's own API, as a party outside our system would make it. */
  async function issuerCall(path: string, body: unknown, headers: Record<string, string> = {}): Promise<any> {
    const res = await fetch(`${issuerUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ISSUER_KEY}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`issuer ${path} answered ${res.status}: ${await res.text()}`);
    return res.json();
  }

  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
    issuerUrl = h.mocks.urls.tokenIssuer!;
    env = {
      DATABASE_URL: h.config.DATABASE_URL!,
      DATABASE_SCHEMA: h.config.DATABASE_SCHEMA,
      REDIS_URL: h.config.REDIS_URL!,
      TOKEN_ISSUER_URL: issuerUrl,
      TOKEN_ISSUER_API_KEY: ISSUER_KEY,
    };
    taskA = await postTask(h, { theme: 'battery', budget: '50.00', voiceId: 'demo-voice' });
    taskB = await postTask(h, { theme: 'semiconductor', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 3 });
    const [a, b] = await Promise.all([waitForEnd(h, taskA), waitForEnd(h, taskB)]);
    expect(a.status).toBe('completed');
    expect(b.status).toBe('completed');
    spentA = parseMoney(a.budget.spent);
    spentB = parseMoney(b.budget.spent);
    // Both bought something, so there is money on both sides to compare.
    expect(spentA).toBeGreaterThan(0);
    expect(spentB).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('exits 0 and says the books agree when every task matches the issuer', async () => {
    const run = await program([]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const total = formatMoney(spentA + spentB);
    expect(run.stdout).toContain(`checked 2 task(s): ours ${total} CNY, issuer ${total} CNY`);
    expect(run.stdout).toMatch(/the books agree\n$/);
    expect(run.stdout).not.toContain('DIFF');
  });

  it('checks one task when given its id (in either case)', async () => {
    const run = await cli([taskA]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`checked 1 task(s): ours ${formatMoney(spentA)} CNY, issuer ${formatMoney(spentA)} CNY`);
    expect(run.stdout).toContain('the books agree');

    const upper = await cli([taskB.toUpperCase()]);
    expect(upper.code).toBe(0);
    expect(upper.stdout).toContain(`checked 1 task(s): ours ${formatMoney(spentB)} CNY, issuer ${formatMoney(spentB)} CNY`);
  });

  it('--json prints the checked balances and the differences as JSON', async () => {
    const run = await cli(['--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.differences).toEqual([]);
    const byId = new Map<string, any>(result.checked.map((b: any) => [b.taskId, b]));
    expect([...byId.keys()].sort()).toEqual([taskA, taskB].sort());
    expect(byId.get(taskA)).toEqual({ taskId: taskA, status: 'completed', ours: spentA, issuer: spentA });
    expect(byId.get(taskB)).toEqual({ taskId: taskB, status: 'completed', ours: spentB, issuer: spentB });

    const one = JSON.parse((await cli([taskB, '--json'])).stdout);
    expect(one).toEqual({ checked: [{ taskId: taskB, status: 'completed', ours: spentB, issuer: spentB }], inFlight: [], differences: [] });
  });

  it('lists a running task as in flight instead of comparing money that is still moving', async () => {
    // A task mid-purchase: captured on our side a moment before (or after) the issuer's record shows it.
    const runningId = await runningTask(h, { id: '00000000-0000-4000-8000-00000000abcd', tenant: 'acme', theme: 'in flight', budgetLimit: 1000 });
    await h.database.db.updateTable('tasks').set({ captured: 300 }).where('id', '=', runningId).execute();
    try {
      const run = await cli([]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`1 task(s) still running, compared once they end: ${runningId}`);
      expect(run.stdout).not.toContain('DIFF');
      const one = JSON.parse((await cli([runningId, '--json'])).stdout);
      expect(one).toEqual({ checked: [], inFlight: [runningId], differences: [] });
    } finally {
      await h.database.db.deleteFrom('task_events').where('task_id', '=', runningId).execute();
      await h.database.db.deleteFrom('tasks').where('id', '=', runningId).execute();
    }
  });

  it('exits 1 and names the task and the kind when our books were changed behind the issuer\'s back', async () => {
    await h.database.db.updateTable('tasks').set({ captured: sql<number>`captured + 1` }).where('id', '=', taskA).execute();
    try {
      const run = await cli([]);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain(`DIFF ${taskA} net_mismatch: ours ${formatMoney(spentA + 1)} ≠ issuer ${formatMoney(spentA)}`);
      expect(run.stdout).toContain(`DIFF ${taskA} ledger_capture:`);
      expect(run.stdout).not.toContain(`DIFF ${taskB}`);
      expect(run.stdout).toMatch(/2 difference\(s\)\n$/);

      const json = JSON.parse((await cli([taskA, '--json'])).stdout);
      expect(json.differences.map((d: any) => [d.taskId, d.kind]).sort()).toEqual([
        [taskA, 'ledger_capture'],
        [taskA, 'net_mismatch'],
      ]);
      // The untouched task still checks out on its own.
      expect((await cli([taskB])).code).toBe(0);
    } finally {
      await h.database.db.updateTable('tasks').set({ captured: sql<number>`captured - 1` }).where('id', '=', taskA).execute();
    }
    expect((await cli([])).code).toBe(0);
  }, 90_000);

  it('exits 2 without guessing when the issuer cannot be reached', async () => {
    const closedPort = await freePort();
    const run = await cli([], { TOKEN_ISSUER_URL: `http://127.0.0.1:${closedPort}` });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^reconcile could not check: .*127\.0\.0\.1:\d+.*ECONNREFUSED/);
  });

  it('exits 2 on a schema that holds no books, and creates nothing there (an audit only reads)', async () => {
    const empty = `t_empty_${Date.now().toString(36)}`;
    const run = await cli([], { DATABASE_SCHEMA: empty });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`schema "${empty}" holds no up-to-date books`);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_namespace where nspname = ${empty}`.execute(h.database.db);
    expect(rows[0]!.n).toBe(0);
  });

  it('exits 2 when it is given a task it does not know and the issuer holds nothing for', async () => {
    const unknown = randomUUID();
    const run = await cli([unknown]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`reconcile could not check: no task ${unknown}`);
  });

  it('exits 2 with the usage for arguments that are not one task id', async () => {
    // 36 characters of hex digits and dashes that are no UUID; a UUID with more after it; two ids; an unknown flag.
    for (const args of [['not-a-uuid'], [`${'0'.repeat(35)}-`], [`${taskA}x`], [taskA, taskB], ['--bogus']]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toContain('usage: npm run reconcile [-- <taskId>] [--json]');
      expect(run.stdout, args.join(' ')).toBe('');
    }
  }, 90_000);

  it('exits 2 and names DATABASE_URL when it is unset (PGlite serves one process only)', async () => {
    const { DATABASE_URL: _, ...withoutDb } = env;
    const run = await runProgram('apps/cli/reconcile.ts', [], withoutDb);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^reconcile could not check: .*DATABASE_URL/);
    expect(run.stdout).toBe('');
  });

  it('exits 1 for a charge made at the issuer outside our books, also under a reference we do not know', async () => {
    // Someone charges the marketplace for task B on a token our system never asked for.
    const token = await issuerCall('/v1/tokens', { amount: '10.00', currency: 'CNY', merchantId: 'marketplace', reference: taskB });
    const charge = await issuerCall(
      `/v1/tokens/${token.id}/charges`,
      { amount: '3.00', merchantId: 'marketplace', description: '/company/detail?id=rogue' },
      { 'idempotency-key': `rogue-${randomUUID()}` },
    );
    const run = await cli([taskB]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`DIFF ${taskB} foreign_charge: issuer charge ${charge.id} (3.00) on this task's token was not made by us`);
    expect(run.stdout).toContain(`DIFF ${taskB} net_mismatch: ours ${formatMoney(spentB)} ≠ issuer ${formatMoney(spentB + 300)}`);
    expect(run.stdout).toContain(`DIFF ${taskB} several_tokens:`);

    // Money charged under a reference that is no task of ours.
    const stranger = randomUUID();
    const other = await issuerCall('/v1/tokens', { amount: '5.00', currency: 'CNY', merchantId: 'marketplace', reference: stranger });
    await issuerCall(`/v1/tokens/${other.id}/charges`, { amount: '4.50', merchantId: 'marketplace' }, { 'idempotency-key': `rogue-${randomUUID()}` });
    const all = await cli(['--json']);
    expect(all.code).toBe(1);
    const kinds = JSON.parse(all.stdout).differences.map((d: any) => `${d.taskId} ${d.kind}`);
    expect(kinds).toContain(`${taskB} foreign_charge`);
    expect(kinds).toContain(`${stranger} unknown_reference`);
    expect(kinds.filter((k: string) => k.startsWith(taskA))).toEqual([]);

    const single = await cli([stranger]);
    expect(single.code).toBe(1);
    expect(single.stdout).toContain(`DIFF ${stranger} unknown_reference: issuer holds 4.50 charged for a task we do not know`);
  }, 90_000);
});
