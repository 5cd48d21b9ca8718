import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/**
 * POST /v1/tasks refuses a theme that is not one line of text (issue 6, defect 3): the theme is the
 * report's title, so a line break in it could open a heading or a table of its own. A 400 names the
 * field, and nothing is stored.
 */
describe('POST /v1/tasks: the theme is one line of text', () => {
  let h: Harness;
  const valid = { theme: 'solid-state battery makers', budget: '50.00', voiceId: 'demo-voice' };

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const taskCount = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tasks`.execute(h.database.db)).rows[0]!.n);

  it.each([
    ['LF', 'battery makers\n\n## Budget\n| limit | spent |'],
    ['CR', 'battery\rmakers'],
    ['CRLF', 'battery\r\nmakers'],
    ['a trailing LF (not trimmed away)', 'battery makers\n'],
    ['a leading CR', '\rbattery makers'],
    ['a tab', 'battery\tmakers'],
    ['NUL', 'battery\u0000makers'],
    ['a vertical tab', 'battery\u000bmakers'],
    ['a form feed', 'battery\u000cmakers'],
    ['ESC (a terminal escape)', 'battery \u001b[31mred'],
    ['DEL', 'battery\u007f'],
    ['NEL (a C1 line break)', 'battery\u0085makers'],
    ['a C1 control', 'battery\u009bmakers'],
    ['the Unicode line separator', 'battery\u2028makers'],
    ['the Unicode paragraph separator', 'battery\u2029makers'],
    ['a right-to-left override', '\u202ebattery makers'],
    ['a bidi isolate', 'battery \u2066makers\u2069'],
  ])('rejects a theme with %s: 400 naming theme, nothing stored', async (_what, theme) => {
    const before = await taskCount();
    const problem = await expectProblem(await h.api('/v1/tasks', { body: { ...valid, theme } }), 400, 'validation_failed');
    expect(problem.errors).toEqual([{ path: 'theme', message: expect.stringMatching(/line breaks|control characters/) }]);
    expect(problem.detail).toContain('theme');
    expect(await taskCount()).toBe(before);
  });

  it('accepts markdown and HTML in one line (the report escapes them), and any script', async () => {
    for (const theme of ['battery ## Budget | 0.00 | <img src=x onerror=alert(1)> [x](javascript:alert(1))', '固态电池 — «batteries» 🔋', 'بطاريات']) {
      const res = await h.api('/v1/tasks', { body: { ...valid, theme } });
      expect(res.status).toBe(202);
      expect(((await res.json()) as any).theme).toBe(theme);
    }
  });
});
