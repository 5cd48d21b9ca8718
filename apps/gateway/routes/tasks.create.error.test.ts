import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, openHarness, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * POST /v1/tasks, the rejected requests (DESIGN.md §5): every rejection is a 4xx RFC 9457
 * application/problem+json body with type, title, status, detail and code; a field error names the
 * field in errors[].path; nothing is stored; and a client error is never a 500.
 */
describe('POST /v1/tasks (rejected)', () => {
  let h: Harness;
  const valid = { theme: 'solid-state battery makers', budget: '50.00', voiceId: 'demo-voice' };

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function taskCount(): Promise<number> {
    const row = await sql<{ n: number | string }>`select count(*)::int as n from tasks`.execute(h.database.db);
    return Number(row.rows[0]!.n);
  }

  /** Checks the RFC 9457 shape and returns the body. */
  /** Posts, expects 400 validation_failed naming `path`, and that no task was stored. */
  async function expectFieldRejected(body: unknown, path: string) {
    const before = await taskCount();
    const res = await h.api('/v1/tasks', { body });
    const problem = await expectProblem(res, 400, 'validation_failed');
    expect(Array.isArray(problem.errors)).toBe(true);
    for (const e of problem.errors) {
      expect(typeof e.path).toBe('string');
      expect(typeof e.message).toBe('string');
    }
    expect(problem.errors.map((e: any) => e.path)).toContain(path);
    expect(await taskCount()).toBe(before);
    return problem;
  }

  const without = (field: keyof typeof valid) => {
    const copy: Record<string, unknown> = { ...valid };
    delete copy[field];
    return copy;
  };

  describe('theme', () => {
    it.each([
      ['empty', ''],
      ['whitespace only', '   \t\n '],
      ['longer than 500 characters', 'x'.repeat(501)],
      ['not a string', 42],
      ['null', null],
    ])('rejects a theme that is %s', async (_what, theme) => {
      await expectFieldRejected({ ...valid, theme }, 'theme');
    });

    it('rejects a missing theme', async () => {
      await expectFieldRejected(without('theme'), 'theme');
    });
  });

  describe('budget', () => {
    it.each([
      ['0 (number)', 0],
      ['"0" (string)', '0'],
      ['"0.00"', '0.00'],
      ['negative (number)', -5],
      ['negative (string)', '-5.00'],
      ['a word', 'abc'],
      ['an empty string', ''],
      ['0.30000000000000004 (a float artefact)', 0.30000000000000004],
      ['three decimals (string)', '1.234'],
      ['three decimals (number)', 1.234],
      ['over 100000.00 by a fen (number)', 100000.01],
      ['over 100000.00 by a fen (string)', '100000.01'],
      ['far over the maximum', 1e12],
      ['in exponent notation', '1e3'],
      ['with a currency sign', '¥50'],
      ['with a thousands separator', '1,000.00'],
      ['a boolean', true],
      ['null', null],
      ['an object', { amount: '50.00', currency: 'CNY' }],
      ['an array', ['50.00']],
    ])('rejects a budget that is %s', async (_what, budget) => {
      await expectFieldRejected({ ...valid, budget }, 'budget');
    });

    it('rejects a missing budget', async () => {
      await expectFieldRejected(without('budget'), 'budget');
    });
  });

  describe('currency', () => {
    it.each(['USD', 'EUR', '', 156])('rejects currency %j', async (currency) => {
      await expectFieldRejected({ ...valid, currency }, 'currency');
    });
  });

  describe('voiceId', () => {
    it('rejects a missing voiceId', async () => {
      await expectFieldRejected(without('voiceId'), 'voiceId');
    });
    it.each([['empty', ''], ['whitespace', '   '], ['a number', 7], ['null', null]])('rejects a voiceId that is %s', async (_what, voiceId) => {
      await expectFieldRejected({ ...valid, voiceId }, 'voiceId');
    });
  });

  describe('maxCompanies', () => {
    it.each([
      ['0', 0],
      ['21', 21],
      ['1.5', 1.5],
      ['negative', -1],
      ['a string', '5'],
      ['null', null],
    ])('rejects maxCompanies %s', async (_what, maxCompanies) => {
      await expectFieldRejected({ ...valid, maxCompanies }, 'maxCompanies');
    });
  });

  describe('maxAge', () => {
    it.each([
      ['negative', -1],
      ['over a year', 31_536_001],
      ['a fraction', 1.5],
      ['a string', '3600'],
      ['null', null],
    ])('rejects maxAge %s', async (_what, maxAge) => {
      await expectFieldRejected({ ...valid, maxAge }, 'maxAge');
    });
  });

  it('rejects an unknown field and names it', async () => {
    await expectFieldRejected({ ...valid, colour: 'red' }, 'colour');
  });

  it('names every invalid field at once', async () => {
    const problem = await expectFieldRejected({ theme: '', budget: 0, voiceId: 'demo-voice', maxCompanies: 21 }, 'theme');
    const paths = problem.errors.map((e: any) => e.path);
    expect(paths).toContain('budget');
    expect(paths).toContain('maxCompanies');
    expect(paths).not.toContain('voiceId');
  });

  describe('the body itself', () => {
    it('answers 400 invalid_json for a body that is not JSON', async () => {
      for (const text of ['{"theme": "x", "budget": 5', 'theme=x&budget=5', "{'theme':'x'}", '']) {
        const before = await taskCount();
        await expectProblem(await h.api('/v1/tasks', { method: 'POST', body: text, headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
        expect(await taskCount()).toBe(before);
      }
    });

    it('answers 415 for a body that is not declared as JSON', async () => {
      const text = JSON.stringify(valid);
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        const before = await taskCount();
        await expectProblem(await h.api('/v1/tasks', { method: 'POST', body: text, headers: { 'content-type': type } }), 415, 'unsupported_media_type');
        expect(await taskCount()).toBe(before);
      }
    });

    it('answers 415 when there is no Content-Type at all', async () => {
      const res = await h.app.request('/v1/tasks', { method: 'POST', headers: AUTH, body: new Blob([JSON.stringify(valid)]) });
      // A Blob without a type sends no Content-Type header.
      await expectProblem(res, 415, 'unsupported_media_type');
    });

    it.each([
      ['an array', [valid]],
      ['null', null],
      ['a string', 'theme'],
      ['a number', 5],
      ['an empty object', {}],
    ])('answers 400 validation_failed for a body that is %s', async (_what, body) => {
      const before = await taskCount();
      const problem = await expectProblem(await h.api('/v1/tasks', { method: 'POST', body: JSON.stringify(body) }), 400, 'validation_failed');
      expect(problem.errors?.length).toBeGreaterThan(0);
      expect(await taskCount()).toBe(before);
    });

    it('answers 413 payload_too_large for a huge body', async () => {
      await expectProblem(await h.api('/v1/tasks', { body: { ...valid, theme: 'x'.repeat(200_000) } }), 413, 'payload_too_large');
    });
  });

  it('rejects an Idempotency-Key that is not printable ASCII or too long, storing nothing', async () => {
    for (const key of ['has space', 'x'.repeat(201), 'caf\u00e9']) {
      const before = await taskCount();
      await expectProblem(await h.api('/v1/tasks', { body: valid, headers: { 'idempotency-key': key } }), 400, 'validation_failed');
      expect(await taskCount()).toBe(before);
    }
  });

  describe('a client error is never a 500', () => {
    const odd: Array<[string, unknown]> = [
      ['null theme, budget, voiceId', { theme: null, budget: null, voiceId: null }],
      ['nested object theme', { ...valid, theme: { en: 'battery', nested: { deeper: [1, 2, { x: null }] } } }],
      ['array theme', { ...valid, theme: ['battery', 'solar'] }],
      ['nested object voiceId', { ...valid, voiceId: { id: 'demo-voice' } }],
      ['huge number budget', { ...valid, budget: 1e308 }],
      ['max safe integer budget', { ...valid, budget: Number.MAX_SAFE_INTEGER }],
      ['beyond safe integer budget', { ...valid, budget: 2 ** 60 }],
      ['400-digit budget string', { ...valid, budget: '9'.repeat(400) }],
      ['13-digit budget string', { ...valid, budget: '9999999999999.99' }],
      ['tiny number budget', { ...valid, budget: 5e-324 }],
      ['negative zero budget', { ...valid, budget: -0 }],
      ['"NaN" budget', { ...valid, budget: 'NaN' }],
      ['"Infinity" budget', { ...valid, budget: 'Infinity' }],
      ['hex budget', { ...valid, budget: '0x10' }],
      ['full-width digits budget', { ...valid, budget: '５０.００' }],
      ['Arabic-Indic digits budget', { ...valid, budget: '٥٠' }],
      ['huge maxCompanies', { ...valid, maxCompanies: 1e308 }],
      ['NUL in theme', { ...valid, theme: 'battery\u0000makers' }],
      ['only NUL as theme', { ...valid, theme: '\u0000' }],
      ['NUL in voiceId', { ...valid, voiceId: 'demo\u0000voice' }],
      ['lone surrogate in theme', { ...valid, theme: 'battery \ud800 makers' }],
      ['right-to-left override in theme', { ...valid, theme: '\u202ebattery' }],
      ['zero-width characters theme', { ...valid, theme: '\u200b\u200c\u200d\ufeff' }],
      ['emoji theme', { ...valid, theme: '🔋'.repeat(300) }],
      ['combining marks theme', { ...valid, theme: 'e\u0301'.repeat(260) }],
      ['SQL-looking theme', { ...valid, theme: "'); drop table tasks; --" }],
      ['very long voiceId', { ...valid, voiceId: 'v'.repeat(10_000) }],
      ['__proto__ field', JSON.parse(`{"__proto__": {"admin": true}, "theme": "x", "budget": 5, "voiceId": "v"}`)],
      ['constructor field', { ...valid, constructor: { prototype: {} } }],
      ['duplicate keys', '{"theme":"a","theme":"b","budget":5,"voiceId":"v"}'],
      ['deeply nested arrays', '['.repeat(20_000) + ']'.repeat(20_000)],
      ['a bare JSON string', '"\\u0000"'],
      ['a byte-order mark before the JSON', `\ufeff${JSON.stringify(valid)}`],
    ];

    it.each(odd)('%s → a 4xx problem or 202, never 5xx', async (_what, body) => {
      const res = await h.api('/v1/tasks', { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
      expect(res.status, await res.clone().text()).toBeLessThan(500);
      if (res.status !== 202) {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
    });
  });
});
