import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskUsage } from '../../../shared/db/dashboard.ts';
import { formatMoney, parseMoney } from '../../../shared/money.ts';
import { API_KEY, openHarness, postTask, waitFor, waitForEnd, type Harness } from '../../../test/support/harness.ts';
import { taskHealth } from './admin.dashboard.ts';

/**
 * The operators' and finance budget dashboard (DESIGN.md §3, §6 ADMIN_USER / ADMIN_PASSWORD):
 * GET /admin/dashboard (HTML) and /admin/dashboard.json, behind the admin basic auth. It shows per-day
 * totals from the dashboard aggregates, recent tasks with their live books beside the aggregates, and
 * flags tasks whose aggregates lag or disagree with the books.
 */
describe('budget dashboard at /admin/dashboard', () => {
  let h: Harness;
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  const admin = basic('admin', 'test-admin');
  const get = (path: string, headers: Record<string, string> = admin) => h.app.request(path, { headers, redirect: 'manual' });
  const json = async (path: string): Promise<any> => {
    const res = await get(path);
    expect(res.status, path).toBe(200);
    return res.json();
  };
  const page = async (path = '/admin/dashboard'): Promise<string> => {
    const res = await get(path);
    expect(res.status, path).toBe(200);
    return res.text();
  };

  /** The text of each cell of the table row with this id (tags stripped, entities of numbers need none). */
  const rowCells = (html: string, rowId: string): string[] | undefined => {
    const row = new RegExp(`<tr id="${rowId}"[^>]*>([\\s\\S]*?)</tr>`).exec(html)?.[1];
    return row === undefined ? undefined : [...row.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, '').trim());
  };
  // Column order of the recent-tasks table.
  const COL = { id: 0, tenant: 2, theme: 3, status: 4, limit: 5, reserved: 6, spent: 7, refunded: 8, released: 9, remaining: 10, aggReserved: 11, aggCaptured: 12, aggReleased: 13, aggRefunded: 14, aggSpent: 15, aggEvents: 16, check: 17, reused: 18, saved: 19 };

  /** Books and ledger of every task in this harness's private schema, in fen. */
  const allBooks = async (tenant?: string) => {
    let captured = 0;
    let refunded = 0;
    let events = 0;
    for await (const t of h.repos.tasks.all()) {
      if (tenant !== undefined && t.tenant !== tenant) continue;
      captured += t.captured;
      refunded += t.refunded;
      events += (await h.repos.payments.ledger(t.id)).length;
    }
    return { captured, refunded, events };
  };

  /** Waits until the dashboard queue has counted every ledger row of the task. */
  const waitInSync = (id: string) =>
    waitFor(
      async () => {
        const data = await json('/admin/dashboard.json?limit=200');
        const row = data.tasks.find((t: any) => t.id === id);
        return row?.dashboard.status === 'in_sync' ? { data, row } : undefined;
      },
      `the dashboard to count task ${id}`,
    );

  let boughtId: string;
  let bought: any;

  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
    boughtId = await postTask(h, { theme: 'battery', budget: '50.00', voiceId: 'demo-voice', maxCompanies: 3 });
    bought = await waitForEnd(h, boughtId, 60_000);
  }, 90_000);
  afterAll(async () => {
    await h?.close();
  });

  describe('basic auth', () => {
    const refused: Array<[string, Record<string, string>]> = [
      ['no credentials', {}],
      ['a wrong password', basic('admin', 'wrong')],
      ['a wrong user', basic('root', 'test-admin')],
      ['the v1 API key as a bearer token', { authorization: `Bearer ${API_KEY}` }],
    ];
    it.each(refused)('refuses %s with 401 and a Basic challenge, showing no figures', async (_what, headers) => {
      for (const path of ['/admin/dashboard', '/admin/dashboard/', '/admin/dashboard.json', '/admin/dashboard?limit=0']) {
        const res = await get(path, headers);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate') ?? '(none)', path).toMatch(/^Basic\b/i);
        const text = await res.text();
        expect(text).not.toContain(boughtId);
        expect(text).not.toContain('test-admin');
      }
    });
  });

  describe('the page', () => {
    it.each(['/admin/dashboard', '/admin/dashboard/'])('GET %s with the admin credentials answers 200 HTML, not a redirect', async (path) => {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const html = await res.text();
      expect(html).toMatch(/^<!doctype html>/i);
      expect(html).toContain('<title>Budget dashboard');
    });

    it('links to Bull Board and runs no script nor loads anything from elsewhere', async () => {
      const html = await page();
      expect(html).toContain('href="/admin/queues"');
      expect(html).not.toMatch(/<script/i);
      expect(html).not.toMatch(/<link\b/i);
      expect(html).not.toMatch(/\bsrc=/i);
      expect(html).not.toMatch(/https?:\/\//i);
      expect(html).not.toMatch(/@import|url\(/i);
    });
  });

  describe('a completed task', () => {
    it('bought something, so the figures below are not all zero', () => {
      expect(bought.status).toBe('completed');
      expect(parseMoney(bought.budget.spent)).toBeGreaterThan(0);
    });

    it('the JSON shows its books as the task API does, and aggregates that agree once counted', async () => {
      const { data, row } = await waitInSync(boughtId);
      expect(data.currency).toBe('CNY');
      expect(data.tenant).toBeNull();
      expect(data.links.bullBoard).toBe('/admin/queues');
      expect(row.tenant).toBe('acme');
      expect(row.theme).toBe('battery');
      expect(row.status).toBe('completed');
      expect(row.budget).toEqual({ ...bought.budget });
      expect(row.budget.spent).toBe(bought.budget.spent);
      expect(row.budget.reserved).toBe('0.00');
      expect(row.budget.limit).toBe('50.00');
      const captured = parseMoney(bought.budget.spent) + parseMoney(bought.budget.refunded);
      const ledger = await h.repos.payments.ledger(boughtId);
      const reservedAll = ledger.filter((l) => l.kind === 'reserve').reduce((s, l) => s + l.amount, 0);
      expect(row.usage).toEqual({
        counted: true,
        reserved: formatMoney(reservedAll),
        captured: formatMoney(captured),
        released: bought.budget.released,
        refunded: bought.budget.refunded,
        spent: bought.budget.spent,
        events: ledger.length,
        currency: 'CNY',
      });
      expect(row.dashboard).toEqual({ status: 'in_sync', pendingEvents: 0, ledgerEntries: ledger.length, differences: [] });
    });

    it('the page shows the same row: books, aggregates and an in-sync check', async () => {
      await waitInSync(boughtId);
      const html = await page();
      const cells = rowCells(html, `task-${boughtId}`);
      expect(cells, 'the task row').toBeDefined();
      const c = cells!;
      expect(c[COL.id]).toBe(boughtId);
      expect(c[COL.tenant]).toBe('acme');
      expect(c[COL.theme]).toBe('battery');
      expect(c[COL.status]).toBe('completed');
      expect(c[COL.limit]).toBe('50.00');
      expect(c[COL.reserved]).toBe('0.00');
      expect(c[COL.spent]).toBe(bought.budget.spent);
      expect(c[COL.refunded]).toBe(bought.budget.refunded);
      expect(c[COL.released]).toBe(bought.budget.released);
      expect(c[COL.remaining]).toBe(bought.budget.remaining);
      expect(c[COL.aggCaptured]).toBe(formatMoney(parseMoney(bought.budget.spent) + parseMoney(bought.budget.refunded)));
      expect(c[COL.aggRefunded]).toBe(bought.budget.refunded);
      expect(c[COL.aggSpent]).toBe(bought.budget.spent);
      expect(c[COL.check]).toBe('in sync');
    });

    it("the daily totals include what it captured once the dashboard queue caught up, on the page as in the JSON", async () => {
      const books = await allBooks();
      expect(books.captured).toBeGreaterThan(0);
      const data = await waitFor(
        async () => {
          const d = await json('/admin/dashboard.json');
          const sum = (k: 'captured' | 'refunded') => d.daily.reduce((s: number, r: any) => s + parseMoney(r[k]), 0);
          return sum('captured') === books.captured && d.daily.reduce((s: number, r: any) => s + r.events, 0) === books.events ? d : undefined;
        },
        'the daily totals to count every ledger row',
      );
      const refunded = data.daily.reduce((s: number, r: any) => s + parseMoney(r.refunded), 0);
      expect(refunded).toBe(books.refunded);
      for (const r of data.daily) {
        expect(r.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(r.spent).toBe(formatMoney(parseMoney(r.captured) - parseMoney(r.refunded)));
      }
      const html = await page();
      for (const r of data.daily) {
        // Day, tenants, reserved, captured, released, refunded, spent, events.
        expect(rowCells(html, `day-${r.day}`)).toEqual([r.day, String(r.tenants), r.reserved, r.captured, r.released, r.refunded, r.spent, String(r.events)]);
      }
    });
    it("charts each day's budget use (a day's bar tells its totals) and links the task to its console page", async () => {
      await waitInSync(boughtId);
      const data = await json('/admin/dashboard.json');
      const html = await page();
      const today = data.generatedAt.slice(0, 10);
      // The newest day with use (today, unless the task ran just before midnight UTC).
      const r = data.daily[0];
      expect(r, 'a day in the daily totals').toBeDefined();
      const chart = /<svg id="budget-chart"[\s\S]*?<\/svg>/.exec(html)?.[0];
      expect(chart, 'the chart').toBeDefined();
      expect(chart).toContain(`<g class="day" data-day="${r.day}"><title>${r.day}: spent ${r.spent}, refunded ${r.refunded}, released ${r.released} CNY</title>`);
      // Two weeks at least, one bar per day, ending today.
      const days = [...chart!.matchAll(/data-day="([\d-]+)"/g)].map((m) => m[1]);
      expect(days.length).toBeGreaterThanOrEqual(14);
      expect(days.at(-1)).toBe(today);
      const spentHeight = Number(new RegExp(`data-day="${r.day}"[\\s\\S]*?<rect class="spent"[^>]*height="(\\d+)"`).exec(chart!)?.[1]);
      expect(spentHeight).toBeGreaterThan(0);
      expect(html).toContain(`<a href="/admin/console/tasks/${boughtId}"`);
    });
  });

  describe('filters', () => {
    let otherId: string;
    beforeAll(async () => {
      const asOther = { authorization: 'Bearer other-key' };
      otherId = await postTask(h, { theme: 'solar', budget: '20.00', voiceId: 'demo-voice', maxCompanies: 1 }, asOther);
      // waitForEnd asks as acme, which cannot see another tenant's task: ask as its own tenant.
      await waitFor(
        async () => {
          const task: any = await (await h.api(`/v1/tasks/${otherId}`, { headers: asOther })).json();
          return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : undefined;
        },
        `task ${otherId} to end`,
        60_000,
      );
      await waitInSync(otherId);
    }, 90_000);

    it('?tenant= shows only that tenant, in the tasks and in the daily totals', async () => {
      const acme = await json('/admin/dashboard.json?tenant=acme');
      expect(acme.tenant).toBe('acme');
      expect(acme.tasks.length).toBeGreaterThan(0);
      expect(acme.tasks.every((t: any) => t.tenant === 'acme')).toBe(true);
      expect(acme.tasks.map((t: any) => t.id)).toContain(boughtId);

      const other = await json('/admin/dashboard.json?tenant=other');
      expect(other.tasks.map((t: any) => t.id)).toEqual([otherId]);
      const otherBooks = await allBooks('other');
      expect(other.daily.reduce((s: number, r: any) => s + parseMoney(r.captured), 0)).toBe(otherBooks.captured);
      expect(other.daily.every((r: any) => r.tenants === 1)).toBe(true);

      const html = await page('/admin/dashboard?tenant=other');
      expect(rowCells(html, `task-${otherId}`)).toBeDefined();
      expect(html).not.toContain(`task-${boughtId}`);
    });

    it('?limit= caps the list, newest first', async () => {
      const one = await json('/admin/dashboard.json?limit=1');
      expect(one.limit).toBe(1);
      expect(one.tasks.map((t: any) => t.id)).toEqual([otherId]);
      const all = await json('/admin/dashboard.json?limit=200');
      expect(all.tasks.map((t: any) => t.id).slice(0, 2)).toEqual([otherId, boughtId]);
    });

    it('a blank tenant or limit (an empty form field) means no filter and the default', async () => {
      const data = await json('/admin/dashboard.json?tenant=&limit=');
      expect(data.tenant).toBeNull();
      expect(data.limit).toBe(50);
    });
  });

  describe('escaping', () => {
    it('shows a hostile theme as text, never as markup', async () => {
      const theme = '<script>alert(1)</script>';
      const id = await postTask(h, { theme, budget: '5.00', voiceId: 'demo-voice', maxCompanies: 1 });
      await waitForEnd(h, id, 60_000);
      const html = await page();
      expect(html).toContain(`task-${id}`);
      expect(html).not.toContain(theme);
      expect(html).not.toMatch(/<script/i);
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      // The JSON twin carries the theme as the string it is.
      const data = await json('/admin/dashboard.json');
      expect(data.tasks.find((t: any) => t.id === id).theme).toBe(theme);
    });

    it('shows a hostile tenant filter as text, never as markup', async () => {
      const tenant = '"><script>alert(1)</script>';
      const html = await page(`/admin/dashboard?tenant=${encodeURIComponent(tenant)}`);
      expect(html).not.toContain(tenant);
      expect(html).not.toMatch(/<script/i);
      expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    });
  });

  describe('memory', () => {
    it("shows what a task reused from the tenant's memory and what that saved, per task and in all", async () => {
      // The same theme again: acme owns what the first task bought.
      const id = await postTask(h, { theme: 'battery', budget: '50.00', voiceId: 'demo-voice', maxCompanies: 3 });
      const task = await waitForEnd(h, id, 60_000);
      const reused = task.companies.filter((c: any) => c.status === 'reused');
      expect(reused.length).toBeGreaterThan(0);
      const saved = formatMoney(reused.reduce((s: number, c: any) => s + parseMoney(c.price), 0));
      expect(task.memory).toEqual({ reused: reused.length, saved, currency: 'CNY' });
      const data = await json('/admin/dashboard.json');
      expect(data.tasks.find((t: any) => t.id === id).memory).toEqual({ reused: reused.length, saved });
      expect(data.tasks.find((t: any) => t.id === boughtId).memory).toEqual({ reused: 0, saved: '0.00' });
      expect(data.summary.reused).toBe(data.tasks.reduce((n: number, t: any) => n + t.memory.reused, 0));
      const cells = rowCells(await page(), `task-${id}`)!;
      expect([cells[COL.reused], cells[COL.saved]]).toEqual([String(reused.length), saved]);
    });
  });

  describe("the dashboard's health", () => {
    it('flags a task as lagging while the dashboard queue has not counted its events, then in sync once it has', async () => {
      // Not battery: acme would reuse its battery receipts, moving no money.
      const id = await postTask(h, { theme: 'logistics', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
      const task = await waitForEnd(h, id, 60_000);
      const ledger = await h.repos.payments.ledger(id);
      expect(ledger.length).toBeGreaterThan(0);
      // Counted as the money moved: in sync the moment the task ends.
      expect((await json('/admin/dashboard.json')).tasks.find((t: any) => t.id === id).dashboard).toMatchObject({ status: 'in_sync', pendingEvents: 0 });

      // Its rows as rows booked before movements counted themselves (migration 2026_11_29_050): no mark, no aggregate.
      const ids = ledger.map((l) => l.id);
      await h.database.db.transaction().execute(async (trx) => {
        await sql`delete from dashboard_applied where ledger_entry_id in (${sql.join(ids)})`.execute(trx);
        await sql`delete from budget_usage where task_id = ${id}`.execute(trx);
        for (const l of ledger) {
          const column = sql.id({ reserve: 'reserved', capture: 'captured', release: 'released', refund: 'refunded' }[l.kind]);
          await sql`update budget_usage_daily set ${column} = ${column} - ${l.amount}, events = events - 1
            where tenant = 'acme' and day = (${l.created_at}::timestamptz at time zone 'UTC')::date`.execute(trx);
        }
      });
      const row = (await json('/admin/dashboard.json')).tasks.find((t: any) => t.id === id);
      expect(row.budget.spent).toBe(task.budget.spent);
      expect(row.dashboard.status).toBe('lagging');
      expect(row.dashboard.pendingEvents).toBe(ledger.length);
      expect(row.usage.events).toBe(0);
      const cells = rowCells(await page(), `task-${id}`)!;
      expect(cells[COL.spent]).toBe(task.budget.spent);
      expect(cells[COL.check]).toBe(`lagging: ${ledger.length} of ${ledger.length} events not counted yet`);

      // The sweeper sends such rows to the dashboard queue; its workers count them.
      await h.producer.dashboard(ids);
      const { row: synced } = await waitInSync(id);
      expect(synced.dashboard.pendingEvents).toBe(0);
      expect(rowCells(await page(), `task-${id}`)![COL.check]).toBe('in sync');
    });

    it('flags a task whose counted aggregates disagree with its books', async () => {
      // An aggregate that counted 1.00 too much (as a double-counted capture would).
      await sql`update budget_usage set captured = captured + 100 where task_id = ${boughtId}`.execute(h.database.db);
      try {
        const row = (await json('/admin/dashboard.json')).tasks.find((t: any) => t.id === boughtId);
        expect(row.dashboard).toMatchObject({ status: 'differs', pendingEvents: 0, differences: ['captured', 'spent'] });
        expect(row.usage.spent).toBe(formatMoney(parseMoney(bought.budget.spent) + 100));
        expect(row.budget.spent).toBe(bought.budget.spent);
        const html = await page();
        expect(html).toMatch(new RegExp(`<tr id="task-${boughtId}" class="differs"`));
        expect(rowCells(html, `task-${boughtId}`)![COL.check]).toBe('differs: captured, spent');
      } finally {
        await sql`update budget_usage set captured = captured - 100 where task_id = ${boughtId}`.execute(h.database.db);
      }
    });

    describe('taskHealth', () => {
      const base: TaskUsage = {
        id: 't', tenant: 'acme', theme: 'x', status: 'completed', stage: null, currency: 'CNY', created_at: new Date(), ended_at: null,
        budget_limit: 5000, reserved: 0, captured: 1200, refunded: 200, released: 300,
        counted: true, usage_reserved: 1500, usage_captured: 1200, usage_released: 300, usage_refunded: 200, usage_events: 5,
        ledger_entries: 5, pending_events: 0, foreign_charged: 0, reused: 0, saved: 0,
      };

      it('in sync when every event is counted and the figures match the books', () => {
        expect(taskHealth(base)).toEqual({ status: 'in_sync', pendingEvents: 0, ledgerEntries: 5, differences: [] });
      });

      it('in sync with nothing to count', () => {
        const none = { ...base, captured: 0, refunded: 0, released: 0, usage_reserved: 0, usage_captured: 0, usage_released: 0, usage_refunded: 0, usage_events: 0, ledger_entries: 0, counted: false };
        expect(taskHealth(none).status).toBe('in_sync');
      });

      it('lagging while events are pending and nothing is counted above the books', () => {
        const h1 = taskHealth({ ...base, usage_refunded: 0, usage_events: 4, pending_events: 1 });
        expect(h1).toEqual({ status: 'lagging', pendingEvents: 1, ledgerEntries: 5, differences: ['refunded', 'events', 'spent'] });
      });

      it('differs when an aggregate is above the books, even while events are pending', () => {
        expect(taskHealth({ ...base, usage_captured: 1300, pending_events: 1 }).status).toBe('differs');
      });

      it('differs when every event is counted but a figure still disagrees', () => {
        expect(taskHealth({ ...base, usage_released: 200 })).toMatchObject({ status: 'differs', differences: ['released'] });
        // A reservation still held counts in the aggregates' reserved total.
        expect(taskHealth({ ...base, reserved: 100 })).toMatchObject({ status: 'differs', differences: ['reserved'] });
        expect(taskHealth({ ...base, reserved: 100, usage_reserved: 1600, usage_events: 6, ledger_entries: 6 }).status).toBe('in_sync');
      });
    });
  });

  describe('bad input', () => {
    it.each([
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=-1', 'limit'],
      ['limit=1e2', 'limit'],
      ['limit=0x10', 'limit'],
      ['tenant=a%00b', 'tenant'],
      [`tenant=${'x'.repeat(201)}`, 'tenant'],
    ])('?%s → 400 problem+json naming the field, on the page and the JSON', async (query, field) => {
      for (const path of [`/admin/dashboard?${query}`, `/admin/dashboard.json?${query}`]) {
        const res = await get(path);
        expect(res.status, path).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const body: any = await res.json();
        expect(body.status).toBe(400);
        expect(body.code).toBe('validation_failed');
        expect(body.errors.map((e: any) => e.path)).toEqual([field]);
      }
    });
  });
});
