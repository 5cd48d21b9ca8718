import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openHarness, runningTask, type Harness } from '../support/harness.ts';
import { programArgs } from '../support/programs.ts';

const databaseUrl = inject('databaseUrl');
const ROOT = new URL('../../', import.meta.url).pathname;

function racer(args: string[]): Promise<{ reserved: number; refused: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, programArgs('test/support/reserve-racer.ts', args), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`racer exited ${code}: ${err}`))));
  });
}

/**
 * Invariant 1 across processes: three processes, each with its own connection pool, race 60
 * reservations apiece on one task whose budget fits only a fraction of them. At no sampled instant
 * is captured − refunded + reserved above the limit, and afterwards the books add up exactly.
 */
describe.skipIf(!databaseUrl)('reservations racing from several processes on one task', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => h?.close());

  it('never lets spent + reserved exceed the limit, and books every movement once', async () => {
    const id = await runningTask(h, { id: '00000000-0000-4000-8000-0000000000aa', tenant: 'race', theme: 'race', budgetLimit: 50_000 });

    let watching = true;
    let samples = 0;
    let worst = 0;
    const watcher = (async () => {
      while (watching) {
        const t = (await h.repos.tasks.get(id))!;
        worst = Math.max(worst, t.captured - t.refunded + t.reserved);
        samples++;
      }
    })();
    const results = await Promise.all(['0', '1', '2'].map((r) => racer([databaseUrl!, h.config.DATABASE_SCHEMA, id, r, '60'])));
    watching = false;
    await watcher;

    expect(samples).toBeGreaterThan(5);
    expect(worst).toBeLessThanOrEqual(50_000);
    const reserved = results.reduce((s, r) => s + r.reserved, 0);
    expect(reserved + results.reduce((s, r) => s + r.refused, 0)).toBe(180);
    expect(results.every((r) => r.refused > 0)).toBe(true); // the budget really was contested

    const task = (await h.repos.tasks.get(id))!;
    const payments = await h.repos.payments.forTask(id);
    const ledger = await h.repos.payments.ledger(id);
    expect(payments).toHaveLength(reserved);
    expect(task.reserved).toBe(0);
    const sum = (kind: string) => ledger.filter((l) => l.kind === kind).reduce((s, l) => s + l.amount, 0);
    const amountOf = (state: string) => payments.filter((p) => p.state === state).reduce((s, p) => s + p.amount, 0);
    expect(task.captured).toBe(amountOf('captured'));
    expect(task.released).toBe(amountOf('released'));
    expect(sum('reserve')).toBe(amountOf('captured') + amountOf('released'));
    expect(sum('capture')).toBe(task.captured);
    expect(sum('release')).toBe(task.released);
    expect(ledger.filter((l) => l.kind === 'reserve')).toHaveLength(reserved);
    expect(task.captured).toBeLessThanOrEqual(50_000);
  }, 60_000);
});
