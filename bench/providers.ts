/**
 * `npm run bench:providers [-- --calls 2000 --concurrency 8]`: what one provider call costs in CPU, on our
 * side (the clients in shared/providers) and on the stand-ins' (mocks/), call by call. The stand-ins run in
 * a child process of their own (the marketplace, the token issuer and voice ID, no faults, no latency), so
 * the two sides' CPU (process.cpuUsage of each process) are told apart. The calls are those of a task, in
 * its order: voice consent, the token, a search, the 402 probe, the payment (which charges the token at the
 * issuer: the stand-ins' figure holds both ends of that call), the paid record, the issuer's reads, a
 * refund and the close. A warm-up round of the same calls comes first. No Redis, no Postgres.
 *
 * Prints, per kind: calls/s (with `--concurrency` calls in flight) and CPU µs per call of each process.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createProviders, type Providers } from '../shared/providers/index.ts';
import { formatMoney } from '../shared/money.ts';

const USAGE = 'usage: npm run bench:providers [-- --calls N per kind (10-100000, default 2000)] [--concurrency C (1-256, default 8)]';
const ISSUER_KEY = 'bench-issuer-key';
const KEYWORDS = ['battery', 'semiconductor makers', 'solar', 'robotics companies', 'logistics', 'biotech', 'fintech', 'e-commerce'];

type Cpu = { user: number; system: number };
const cpuMicros = (a: Cpu, b: Cpu) => b.user - a.user + (b.system - a.system);

/** The child: serves the stand-ins, tells its URLs, answers each `cpu` message with its CPU so far. */
async function standIns() {
  const { startMocks } = await import('../mocks/index.ts');
  const mocks = await startMocks({ only: ['tokenIssuer', 'marketplace', 'voiceid'], issuerApiKey: ISSUER_KEY, receiptSecret: 'bench-secret', faults: {} });
  process.on('message', async (m) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (m === 'stop') {
      await mocks.close();
      process.disconnect();
    }
  });
  process.send!({ urls: mocks.urls });
}

async function main() {
  const { values } = parseArgs({ options: { calls: { type: 'string' }, concurrency: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return console.log(USAGE);
  const int = (raw: string | undefined, fallback: number, min: number, max: number) => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(USAGE);
    return n;
  };
  const calls = int(values.calls, 2_000, 10, 100_000);
  const concurrency = int(values.concurrency, 8, 1, 256);

  const child = fork(fileURLToPath(import.meta.url), ['--stand-ins'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<any>((resolve) => child.once('message', resolve));
  const { urls } = await next();
  const childCpu = async (): Promise<Cpu> => {
    const answer = next();
    child.send('cpu');
    return (await answer).cpu;
  };
  const providers = createProviders({ marketplaceUrl: urls.marketplace, tokenIssuerUrl: urls.tokenIssuer, voiceIdUrl: urls.voiceid, issuerApiKey: ISSUER_KEY, timeoutMs: 10_000 });
  try {
    await round(providers, Math.max(10, Math.floor(calls / 5)), concurrency, childCpu, 'warm-up');
    const rows = await round(providers, calls, concurrency, childCpu);
    print(rows, calls, concurrency);
  } finally {
    // Optional so the same file measures main before the pools came (its providers had no close).
    await (providers as { close?: () => Promise<void> }).close?.();
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
}

interface Row {
  kind: string;
  perSecond: number;
  clientUs: number;
  standInsUs: number;
}

/** Every kind of call `n` times, `concurrency` at once; the figures of each kind. */
async function round(p: Providers, n: number, concurrency: number, childCpu: () => Promise<Cpu>, warmUp?: string): Promise<Row[]> {
  const run = `${warmUp ?? 'run'}-${process.hrtime.bigint()}`;
  const rows: Row[] = [];
  const measure = async (kind: string, call: (i: number) => Promise<unknown>) => {
    const [mine, theirs, started] = [process.cpuUsage(), await childCpu(), performance.now()];
    let at = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = at++; i < n; i = at++) await call(i);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const [mineAfter, theirsAfter] = [process.cpuUsage(), await childCpu()];
    rows.push({ kind, perSecond: n / seconds, clientUs: cpuMicros(mine, mineAfter) / n, standInsUs: cpuMicros(theirs, theirsAfter) / n });
  };

  const tokens: string[] = [];
  const companies: string[] = [];
  const prices: number[] = [];
  const receipts: Array<{ receipt: string; chargeId: string }> = [];
  await measure('voice ID verify', (i) => p.voiceId.verify({ voiceId: 'demo-voice', subject: 'bench', reference: `${run}-${i}`, amount: '100.00' }));
  await measure('issuer create token', async (i) => {
    tokens[i] = (await p.issuer.createToken({ amount: '100.00', merchantId: 'marketplace', reference: `${run}-${i}`, expiresInSeconds: 3_600 }, `${run}-token-${i}`)).id;
  });
  await measure('marketplace search', async (i) => {
    const found = await p.marketplace.search(KEYWORDS[i % KEYWORDS.length]!);
    if (i < KEYWORDS.length) companies.push(...found.slice(0, 8).map((c) => c.id));
  });
  await measure('marketplace probe (402)', async (i) => {
    const probe = await p.marketplace.probe(companies[i % companies.length]!);
    if (probe.kind !== 'payment_required') throw new Error('expected the paywall');
    prices[i] = probe.price;
  });
  await measure('marketplace pay', async (i) => {
    const company = companies[i % companies.length]!;
    const paid = await p.marketplace.pay({ tokenId: tokens[i]!, amount: formatMoney(prices[i]!), resource: p.marketplace.resourceOf(company), idempotencyKey: `${run}-pay-${i}` });
    receipts[i] = { receipt: paid.receipt, chargeId: paid.chargeId };
  });
  await measure('marketplace paid fetch', (i) => p.marketplace.fetchDetail(companies[i % companies.length]!, receipts[i]!.receipt));
  await measure('issuer get token', (i) => p.issuer.getToken(tokens[i]!));
  await measure('issuer tokens of a reference', (i) => p.issuer.tokensFor(`${run}-${i}`));
  await measure('issuer refund', (i) => p.issuer.refund(receipts[i]!.chargeId, '1.00', `${run}-refund-${i}`));
  await measure('issuer close token', (i) => p.issuer.close(tokens[i]!));
  return rows;
}

function print(rows: Row[], calls: number, concurrency: number) {
  console.log(`\n${calls} calls of each kind, ${concurrency} in flight; CPU per call of our process (the clients) and of the stand-ins' process\n`);
  console.log(`| call | calls/s | our CPU µs/call | stand-ins' CPU µs/call |\n| --- | ---: | ---: | ---: |`);
  for (const r of rows) console.log(`| ${r.kind} | ${r.perSecond.toFixed(0)} | ${r.clientUs.toFixed(0)} | ${r.standInsUs.toFixed(0)} |`);
  const record = rows.filter((r) => ['marketplace probe (402)', 'marketplace pay', 'marketplace paid fetch'].includes(r.kind));
  const sum = (f: (r: Row) => number) => record.reduce((s, r) => s + f(r), 0).toFixed(0);
  console.log(`| **a paid record** (probe + pay + paid fetch) | | **${sum((r) => r.clientUs)}** | **${sum((r) => r.standInsUs)}** |`);
}

if (process.argv.includes('--stand-ins')) await standIns();
else
  await main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  });
