import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sseMessage } from '../../gateway/routes/tasks.events.ts';
import { applyMovement, barSegments, describeEvent, emptyBook, figures, formatFen, problemOf, SseParser, stageState, toFen, type Book, type Movement } from './console.js';

/**
 * The console script's pure half (assets/console.js), in Node: the money it shows, the stream it parses,
 * the bar it draws, the lines it tells. The browser test (console.browser.test.ts) drives the rest.
 */
describe('money in the console: integer fen, decimal strings', () => {
  it('reads wire amounts exactly and writes them back with two places', () => {
    expect(toFen('12.50')).toBe(1250);
    expect(toFen('12.5')).toBe(1250);
    expect(toFen('12')).toBe(1200);
    expect(toFen('0.07')).toBe(7);
    expect(toFen('100000.00')).toBe(10_000_000);
    expect(formatFen(1250)).toBe('12.50');
    expect(formatFen(7)).toBe('0.07');
    expect(formatFen(0)).toBe('0.00');
    expect(formatFen(-305)).toBe('-3.05');
  });

  it('refuses what is not an amount rather than guessing', () => {
    for (const bad of ['', '-1', '1e3', '1.234', ' 1', '1,00', '0x10', 'NaN', '.5']) expect(() => toFen(bad), bad).toThrow(/not an amount/);
    expect(() => formatFen(0.1 + 0.2)).toThrow(/whole number/);
  });

  it('round-trips every amount the API can send', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), (fen) => toFen(formatFen(fen)) === fen));
  });
});

describe('the Server-Sent Events parser', () => {
  const events = [
    { seq: 1, taskId: '0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33', type: 'created', at: new Date('2026-11-29T08:00:00Z'), data: { status: 'queued' } },
    { seq: 2, taskId: '0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33', type: 'decision', at: new Date('2026-11-29T08:00:01Z'), data: { companyId: 'c1', name: 'Ünïcode: "quoted" 电池\nnot a new line', action: 'buy', reason: 'rank 1', by: 'rules', price: '6.50' } },
    { seq: 3, taskId: '0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33', type: 'payment', at: new Date('2026-11-29T08:00:02Z'), data: { companyId: 'c1', movement: 'reserve', amount: '6.50' } },
  ];
  /** What the gateway sends: its own serialisation, with a heartbeat between. */
  const wire = events.map(sseMessage).join(': heartbeat\n\n');

  it("reads the gateway's own messages whole: id, event, data", () => {
    const got = new SseParser().push(wire);
    expect(got.map((m) => [m.id, m.event])).toEqual([['1', 'created'], ['2', 'decision'], ['3', 'payment']]);
    expect(JSON.parse(got[1]!.data).data.name).toBe(events[1]!.data.name);
  });

  it('gives the same messages however the stream is cut, CRLF and CR line ends included', () => {
    const whole = new SseParser().push(wire);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r'), (cuts, eol) => {
        const text = wire.replace(/\n/g, eol);
        const points = [...new Set(cuts.map((c) => Math.min(c, text.length)))].sort((a, b) => a - b);
        const parser = new SseParser();
        const got = [];
        let from = 0;
        for (const p of [...points, text.length]) {
          got.push(...parser.push(text.slice(from, p)));
          from = p;
        }
        expect(got).toEqual(whole);
      }),
    );
  });

  it('joins multi-line data, ignores comments and unknown fields, and keeps the last id', () => {
    const got = new SseParser().push(': hi\nretry: 10\nfoo: bar\nid: 7\ndata: a\ndata:b\n\nid\0x: 8\ndata: c\n\n');
    expect(got).toEqual([
      { id: '7', event: 'message', data: 'a\nb' },
      { id: '7', event: 'message', data: 'c' },
    ]);
  });
});

describe('the budget the payment events add up to', () => {
  it('reserve holds, capture spends, release gives back, refund returns what was spent', () => {
    let b: Book = emptyBook(3000);
    b = applyMovement(b, 'reserve', 650);
    expect(figures(b)).toEqual({ limit: 3000, reserved: 650, spent: 0, refunded: 0, remaining: 2350 });
    b = applyMovement(b, 'capture', 650);
    b = applyMovement(b, 'reserve', 1450);
    b = applyMovement(b, 'release', 1450);
    b = applyMovement(b, 'refund', 200);
    expect(figures(b)).toEqual({ limit: 3000, reserved: 0, spent: 450, refunded: 200, remaining: 2550 });
  });

  it('draws segments of whole units that add up to the whole bar, in order, whatever the movements', () => {
    const move = fc.record({ m: fc.constantFrom<Movement>('reserve', 'capture', 'release', 'refund'), fen: fc.integer({ min: 1, max: 2_000 }) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.array(move, { maxLength: 30 }), (limit, moves) => {
        // A plausible story: capture and release only of what is reserved, refund only of what is spent, never over the limit.
        let b = emptyBook(limit);
        for (const { m, fen } of moves) {
          const f = figures(b);
          const amount = m === 'reserve' ? Math.min(fen, f.remaining) : m === 'refund' ? Math.min(fen, f.spent) : Math.min(fen, b.reserved);
          if (amount > 0) b = applyMovement(b, m, amount);
        }
        const s = barSegments(b);
        const parts = [s.spent, s.reserved, s.refunded, s.free];
        for (const [x, w] of parts) {
          expect(Number.isInteger(x) && Number.isInteger(w) && w >= 0).toBe(true);
        }
        for (let i = 1; i < parts.length; i++) expect(parts[i]![0]).toBe(parts[i - 1]![0] + parts[i - 1]![1]);
        expect(s.free[0] + s.free[1]).toBe(1000);
        // Something spent or held is never drawn as nothing at all once it is at least a thousandth.
        const f = figures(b);
        if (f.spent * 1000 >= limit * 1.5) expect(s.spent[1]).toBeGreaterThan(0);
        if (f.reserved * 1000 >= limit * 1.5) expect(s.reserved[1]).toBeGreaterThan(0);
      }),
    );
  });

  it('a zero budget draws an empty bar', () => {
    expect(barSegments(emptyBook(0))).toEqual({ spent: [0, 0], reserved: [0, 0], refunded: [0, 0], free: [0, 0] });
  });
});

describe("the story's lines", () => {
  const names = new Map([['c1', 'Binhai Battery']]);
  const at = '2026-11-29T08:00:00.000Z';
  const line = (type: string, data: Record<string, unknown>) => describeEvent({ seq: 1, taskId: 't', type, at, data }, names);

  it('tells every kind of event in words, with the money and the company by name', () => {
    expect(line('payment', { companyId: 'c1', movement: 'capture', amount: '6.50' })).toBe('Paid 6.50 CNY for Binhai Battery');
    expect(line('payment', { companyId: 'c9', movement: 'release', amount: '1.00' })).toBe('Released 1.00 CNY for c9');
    expect(line('decision', { companyId: 'c1', name: 'Binhai Battery', action: 'skip', reason: 'over budget', by: 'rules', price: '9.00' })).toBe('Skip Binhai Battery (9.00 CNY), by rules: over budget');
    expect(line('ended', { status: 'failed', error: { code: 'voice_not_verified', message: 'no' } })).toBe('Ended: failed — voice_not_verified: no');
    const kinds: Record<string, Record<string, unknown>> = {
      created: { status: 'queued' },
      stage: { stage: 'search' },
      searched: { queries: ['a'], plannedBy: 'rules', decidedBy: 'rules', found: 3, chosen: 1, owned: 0, cachedSearches: 0, clipped: 0 },
      candidates: { count: 3, chosen: 1 },
      voice_checked: { verified: true, score: 0.93 },
      token_issued: { limit: '30.00', expiresAt: at },
      foreign_charge: { total: '1.00', charges: [] },
      cancel_requested: {},
      report_ready: { writer: 'offline' },
      ended: { status: 'completed' },
    };
    for (const [type, data] of Object.entries(kinds)) expect(line(type, data), type).not.toMatch(/undefined|NaN|\[object/);
  });

  it('marks stages done, current or to do from the story', () => {
    const seen = new Set(['search', 'authorize']);
    expect(['search', 'authorize', 'detail', 'report'].map((s) => stageState(s, { status: 'running', stage: 'authorize' }, seen))).toEqual(['done', 'current', 'todo', 'todo']);
    expect(stageState('report', { status: 'completed', stage: null }, new Set())).toBe('done');
    // A task that failed in authorize: search done, authorize entered (done as far as it went), nothing after.
    expect(['search', 'authorize', 'detail'].map((s) => stageState(s, { status: 'failed', stage: null }, seen))).toEqual(['done', 'done', 'todo']);
  });
});

describe('problems, shown as the API wrote them', () => {
  it('reads an RFC 9457 body: title, status, detail, code and each field', async () => {
    const body = { type: 'about:blank', title: 'Validation failed', status: 400, detail: 'the body is not valid', code: 'validation_failed', errors: [{ path: 'budget', message: 'at most two decimals' }] };
    const p = await problemOf(new Response(JSON.stringify(body), { status: 400, headers: { 'content-type': 'application/problem+json' } }));
    expect(p).toEqual(body);
  });

  it('makes a problem of an answer that is not one (a proxy page), cut short', async () => {
    const p = await problemOf(new Response(`<html>${'x'.repeat(1000)}</html>`, { status: 502, statusText: 'Bad Gateway' }));
    expect(p).toMatchObject({ title: 'Bad Gateway', status: 502, code: '' });
    expect(p.detail.length).toBe(300);
  });
});
