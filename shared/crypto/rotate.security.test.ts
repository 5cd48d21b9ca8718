import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processDetail } from '../../queues/detail/processor.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { FIRST_ATTEMPT, readyForDetail } from '../../test/support/stages.ts';
import { runCli } from '../../test/support/cli.ts';
import { repositories } from '../db/index.ts';
import { DEVELOPMENT_KEY, isSealed, Keyring } from './keyring.ts';
import { rotateKeys } from './rotate.ts';

/**
 * Payment token ids and receipts are sealed at rest (AES-256-GCM): a copy of the database alone spends
 * nothing. Keys rotate with `npm run rotate-keys`; receipts past their time are deleted.
 */
describe('secrets at rest', () => {
  let h: Harness;
  let taskId: string;
  let tokenId: string;
  let receipt: string;
  const fresh = { id: 'k2', key: randomBytes(32) };
  let lost: string;
  beforeAll(async () => {
    h = await openHarness();
    const ready = await readyForDetail(h, { theme: 'battery', budget: '60.00' });
    taskId = ready.taskId;
    expect((await processDetail({ taskId, companyId: ready.companyIds[0]! }, h.deps, FIRST_ATTEMPT)).outcome).toBe('bought');
    tokenId = (await h.deps.providers.issuer.tokensFor(taskId))[0]!.id;
    receipt = h.repos.payments.receiptOf((await h.repos.payments.forTask(taskId))[0]!)!;
  });
  afterAll(async () => h?.close());

  const rawTask = () => h.database.db.selectFrom('tasks').select(['id', 'token_id', 'token_hint']).where('id', '=', taskId).executeTakeFirstOrThrow();
  const rawPayment = () => h.database.db.selectFrom('payments').select(['id', 'receipt', 'receipt_id']).where('task_id', '=', taskId).executeTakeFirstOrThrow();

  it('stores the token id and the receipt sealed, never in the clear', async () => {
    const task = await rawTask();
    const payment = await rawPayment();
    expect(receipt.length).toBeGreaterThan(10);
    expect(isSealed(task.token_id!)).toBe(true);
    expect(task.token_id).not.toContain(tokenId);
    expect(isSealed(payment.receipt!)).toBe(true);
    expect(payment.receipt).not.toContain(receipt);
    // Every column of both tables, as a dump would show them.
    const dump = JSON.stringify([await h.database.db.selectFrom('tasks').selectAll().execute(), await h.database.db.selectFrom('payments').selectAll().execute()]);
    expect(dump).not.toContain(tokenId);
    expect(dump).not.toContain(receipt);
    expect(task.token_hint).toBe(`tok_…${tokenId.slice(-2)}`);
  });

  it('rotates every value to the first key, seals plaintext from before encryption, and names what it cannot open', async () => {
    const ring = new Keyring([fresh, DEVELOPMENT_KEY]);
    // A task written before encryption existed, and one sealed with a key nobody lists any more.
    const legacy = (await readyForDetail(h, { theme: 'solar' })).taskId;
    const legacyToken = h.repos.tasks.tokenOf((await h.repos.tasks.get(legacy))!)!;
    await h.database.db.updateTable('tasks').set({ token_id: legacyToken }).where('id', '=', legacy).execute();
    lost = (await readyForDetail(h, { theme: 'fintech' })).taskId;
    const lostKey = new Keyring([{ id: 'gone', key: randomBytes(32) }]);
    await h.database.db.updateTable('tasks').set({ token_id: lostKey.seal('tok_whatever', `tasks.token_id:${lost}`) }).where('id', '=', lost).execute();

    const result = await rotateKeys(h.database.db, ring);
    expect(result).toEqual({ tokens: 2, receipts: 1, unreadable: [`task ${lost}`] });
    // Only the new key is needed now (for all but the lost one).
    const onlyNew = repositories(h.database, new Keyring([fresh]));
    const task = (await onlyNew.tasks.get(taskId))!;
    expect(task.token_id!.startsWith('enc1.k2.')).toBe(true);
    expect(onlyNew.tasks.tokenOf(task)).toBe(tokenId);
    expect(onlyNew.payments.receiptOf((await onlyNew.payments.forTask(taskId))[0]!)).toBe(receipt);
    const sealedLegacy = (await onlyNew.tasks.get(legacy))!;
    expect(isSealed(sealedLegacy.token_id!)).toBe(true);
    expect(onlyNew.tasks.tokenOf(sealedLegacy)).toBe(legacyToken);
    // Again: nothing left to do.
    expect(await rotateKeys(h.database.db, ring)).toEqual({ tokens: 0, receipts: 0, unreadable: [`task ${lost}`] });
  });

  it.skipIf(!process.env.DATABASE_URL)('npm run rotate-keys: seals under the first key and says so; exits 2 naming what no key opens', async () => {
    const next = { id: 'k3', key: randomBytes(32) };
    const keys = (ks: Array<{ id: string; key: Buffer }>) => ks.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
    const env = { DATABASE_URL: h.config.DATABASE_URL!, DATABASE_SCHEMA: h.config.DATABASE_SCHEMA };
    const tokenAtRest = async () => (await h.database.db.selectFrom('tasks').select('token_id').where('id', '=', taskId).executeTakeFirstOrThrow()).token_id!;

    // k2 listed with the wrong key material: its values do not open; they are named, and nothing is lost.
    const before = await tokenAtRest();
    const wrong = await runCli('apps/cli/rotate-keys.ts', [], { ...env, DATA_ENCRYPTION_KEYS: keys([next, { id: 'k2', key: Buffer.alloc(32) }]) });
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).toMatch(/^sealed again under key "k3": 0 token id\(s\), 0 receipt\(s\)\n4 value\(s\) open with no listed key: /);
    for (const row of [`task ${lost}`, `task ${taskId}`, 'payment ']) expect(wrong.stdout).toContain(row);
    expect(await tokenAtRest()).toBe(before);

    // The lost value is dealt with (by an operator), and the right keys are given: everything moves to k3.
    await h.database.db.updateTable('tasks').set({ token_id: null }).where('id', '=', lost).execute();
    const run = await runCli('apps/cli/rotate-keys.ts', [], { ...env, DATA_ENCRYPTION_KEYS: keys([next, fresh]) });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^sealed again under key "k3": [1-9]\d* token id\(s\), 1 receipt\(s\)\n$/);
    expect((await tokenAtRest()).startsWith('enc1.k3.')).toBe(true);
    expect(repositories(h.database, new Keyring([next])).tasks.tokenOf((await h.repos.tasks.get(taskId))!)).toBe(tokenId);
    expect(`${run.stdout}${wrong.stdout}${wrong.stderr}`).not.toContain(next.key.toString('base64'));
  });

  it('deletes receipts once past their time, from finished payments only, keeping the receipt id for the audit', async () => {
    const payment = await rawPayment();
    expect(await h.repos.payments.purgeExpiredReceipts()).toBe(0);
    await h.database.db.updateTable('payments').set({ receipt_expires_at: new Date(Date.now() - 60_000) }).where('id', '=', payment.id).execute();
    // Still being delivered (captured): kept, the detail stage may need it.
    await h.database.db.updateTable('payments').set({ state: 'captured' }).where('id', '=', payment.id).execute();
    expect(await h.repos.payments.purgeExpiredReceipts()).toBe(0);
    await h.database.db.updateTable('payments').set({ state: 'delivered' }).where('id', '=', payment.id).execute();
    expect(await h.repos.payments.purgeExpiredReceipts()).toBe(1);
    const after = await rawPayment();
    expect(after.receipt).toBeNull();
    expect(after.receipt_id).toBe(payment.receipt_id);
  });
});
