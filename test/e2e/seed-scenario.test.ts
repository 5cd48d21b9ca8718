import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveApp } from '../../apps/runtime/serve.ts';
import { IssuerClient } from '../../shared/providers/issuer.ts';
import { parseMoney } from '../../shared/money.ts';
import { AUTH, ISSUER_KEY, openHarness, type Harness } from '../support/harness.ts';

/**
 * The seed scenario, over real HTTP end to end: a client posts a task with budget 50 to the gateway;
 * workers search, verify the voice, get a token, meet the marketplace's 402, pay through the token,
 * fetch the record with the receipt, and write the report. Then the books are checked against the
 * issuer's own record.
 */
describe('seed scenario over HTTP', () => {
  let h: Harness;
  let base: string;
  let server: { close(): Promise<void> };

  beforeAll(async () => {
    h = await openHarness({ workers: 'all' });
    const served = await serveApp(h.app, 0, '127.0.0.1');
    server = served;
    base = `http://127.0.0.1:${served.port}`;
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  const http = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { ...AUTH, ...(init.headers as object) } });

  it('buys records within a budget of 50, writes a report with company_detail, and its ledger equals the issuer', async () => {
    const posted = await http('/v1/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ theme: 'battery', budget: '50.00', voiceId: 'demo-voice' }),
    });
    expect(posted.status).toBe(202);
    const { id, status } = (await posted.json()) as { id: string; status: string };
    expect(status).toBe('queued');
    expect(posted.headers.get('location')).toBe(`/v1/tasks/${id}`);

    let task: any;
    const deadline = Date.now() + 20_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      task = await (await http(`/v1/tasks/${id}`)).json();
    } while (!['completed', 'failed', 'cancelled'].includes(task.status) && Date.now() < deadline);

    expect(task.status).toBe('completed');
    expect(task.stage).toBeNull();
    const spent = parseMoney(task.budget.spent);
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(5000);
    expect(task.budget.reserved).toBe('0.00');
    expect(parseMoney(task.budget.remaining)).toBe(5000 - spent);

    const bought = task.companies.filter((c: any) => c.status === 'bought');
    expect(bought.length).toBeGreaterThan(0);
    expect(bought.every((c: any) => typeof c.receiptId === 'string')).toBe(true);
    // What the client was shown as spent is exactly the sum of the prices of what it bought.
    expect(bought.reduce((sum: number, c: any) => sum + parseMoney(c.price), 0)).toBe(spent);

    // The marketplace asked for payment first: each purchase is a payment made with our idempotency key.
    const payments = await h.repos.payments.forTask(id);
    expect(payments.map((p) => p.state).sort()).toEqual(bought.map(() => 'delivered'));

    const report = await http(`/v1/tasks/${id}/report`);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/^text\/markdown/);
    const markdown = await report.text();
    for (const c of bought) {
      expect(markdown).toContain(`company_detail: ${c.name}`);
      expect(markdown).toContain(c.receiptId);
    }
    expect(markdown).toMatch(/## Purchases/);
    expect(markdown).toMatch(/## Sources/);

    // The issuer's own books: one token for this task, closed; its charges minus refunds equal our spent.
    const issuer = new IssuerClient(h.mocks.urls.tokenIssuer!, ISSUER_KEY, 3_000);
    const tokens = await issuer.tokensFor(id);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.status).toBe('closed');
    expect(tokens[0]!.merchantId).toBe('marketplace');
    expect(tokens[0]!.limit).toBe(5000);
    const issuerNet = tokens[0]!.charges.reduce((s, c) => s + c.amount - c.refundedAmount, 0);
    expect(issuerNet).toBe(spent);
    expect(tokens[0]!.charges.map((c) => c.idempotencyKey).sort()).toEqual(payments.map((p) => p.idempotency_key).sort());
    const ledger = await h.repos.payments.ledger(id);
    const booked = (kind: string) => ledger.filter((l) => l.kind === kind).reduce((s, l) => s + l.amount, 0);
    expect(booked('capture') - booked('refund')).toBe(issuerNet);
  });
});
