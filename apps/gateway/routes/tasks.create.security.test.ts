import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHarness, type Harness } from '../../../test/support/harness.ts';
import { expectProblem } from '../../../test/support/problem.ts';

/** One harness for the file; every test counts the tasks stored before and after. */
let h: Harness;
const valid = { theme: 'solid-state battery makers', budget: '50.00', voiceId: 'demo-voice' };

beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => {
  await h?.close();
});

const taskCount = async () => Number((await sql<{ n: number }>`select count(*)::int as n from tasks`.execute(h.database.db)).rows[0]!.n);

/**
 * POST /v1/tasks refuses a theme that is not one line of text (issue 6, defect 3): the theme is the
 * report's title, so a line break in it could open a heading or a table of its own. A 400 names the
 * field, and nothing is stored.
 */
describe('POST /v1/tasks: the theme is one line of text', () => {
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
    // Issue 7, item 5: invisible format characters — bidi marks and zero-width characters.
    ['a right-to-left mark', 'battery\u200f makers'],
    ['a left-to-right mark', 'battery\u200e makers'],
    ['the Arabic letter mark', 'battery\u061c makers'],
    ['a zero-width space', 'batt\u200bery makers'],
    ['a zero-width non-joiner', 'batt\u200cery makers'],
    ['a zero-width joiner', 'batt\u200dery makers'],
    ['a word joiner', 'batt\u2060ery makers'],
    ['an invisible separator', 'batt\u2063ery makers'],
    ['a byte-order mark (zero-width no-break space)', '\ufeffbattery makers'],
    ['a soft hyphen', 'batt\u00adery makers'],
    ['the Mongolian vowel separator', 'batt\u180eery makers'],
    ['a tag character', 'battery makers\u{e0041}'],
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

/**
 * Zero-width and bidi characters in the voice id too (issue 7, item 5), and a body is JSON only when
 * its Content-Type says exactly that: `application/json` or `application/<x>+json`, with parameters.
 */
describe('POST /v1/tasks: invisible characters in the voice id, and the JSON media type', () => {
  it.each([['\u200bdemo-voice'], ['demo-voice\u200d'], ['demo\u202e-voice'], ['\ufeffdemo-voice']])('refuses the voice id %j: 400 naming voiceId', async (voiceId) => {
    const problem = await expectProblem(await h.api('/v1/tasks', { body: { ...valid, voiceId } }), 400, 'validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toEqual(['voiceId']);
  });

  it.each([
    ['application/json-seq'],
    ['application/jsonp'],
    ['application/json5'],
    ['application/jsonlines'],
    ['application/json+xml'],
    ['application/x-json-stream'],
    ['application/+json'],
    ['text/json'],
    ['json'],
    ['application/json, text/plain'],
    ['text/plain; application/json'],
    ['application/javascript'],
  ])('refuses Content-Type %j with 415, storing nothing', async (type) => {
    const before = await taskCount();
    await expectProblem(await h.api('/v1/tasks', { body: JSON.stringify(valid), headers: { 'content-type': type } }), 415, 'unsupported_media_type');
    expect(await taskCount()).toBe(before);
  });

  it.each([['application/json'], ['Application/JSON'], ['application/json; charset=utf-8'], ['application/json;charset=UTF-8'], ['application/json ; charset=utf-8'], ['application/problem+json'], ['application/vnd.arp.task+json; version=1']])(
    'accepts Content-Type %j',
    async (type) => {
      expect((await h.api('/v1/tasks', { body: JSON.stringify(valid), headers: { 'content-type': type } })).status).toBe(202);
    },
  );
});
