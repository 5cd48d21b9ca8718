import type { Parent } from 'mdast';
import { toString } from 'mdast-util-to-string';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMarkdown } from '../../shared/markdown/parse.ts';
import { formatMoney } from '../../shared/money.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { FIRST_ATTEMPT, readyForDetail } from '../../test/support/stages.ts';
import { processDetail } from '../detail/processor.ts';
import { processReport } from './processor.ts';

/**
 * The report grounded in what the tenant owns (issue 11): records reused from memory are shown at no
 * charge with what they saved and where they came from; other records the tenant owns that bear on the
 * theme are retrieved, marked owned earlier with their age, and join the comparison and the Sources.
 */
let h: Harness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(async () => h?.close());

/** A task run by hand through every stage: search, authorize, each chosen company's detail, the report. */
async function runTask(opts: { theme: string; maxCompanies: number; budget?: string; headers?: Record<string, string> }) {
  const { taskId, companyIds } = await readyForDetail(h, { budget: opts.budget ?? '200.00', ...opts });
  for (const companyId of companyIds) await processDetail({ taskId, companyId }, h.deps, FIRST_ATTEMPT);
  await processReport({ taskId }, h.deps, FIRST_ATTEMPT);
  const markdown = (await h.repos.reports.get(taskId))!.markdown;
  return { taskId, companyIds, markdown, tree: parseMarkdown(markdown) };
}

const sectionList = (tree: Parent, heading: string) => {
  const at = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === heading);
  return (tree.children[at + 1] as Parent).children.map((li) => toString(li));
};

describe('a second task on the same theme', () => {
  it('reuses what the tenant owns at no charge, says what that saved, and retrieves the rest of what it owns on the theme', async () => {
    const earlier = await runTask({ theme: 'semiconductor', maxCompanies: 5 });
    expect(earlier.companyIds).toHaveLength(5);
    // Something the tenant owns off the theme, which retrieval must leave out.
    const offTheme = await runTask({ theme: 'fintech', maxCompanies: 1 });

    const later = await runTask({ theme: 'semiconductor', maxCompanies: 2 });
    const task = (await h.repos.tasks.get(later.taskId))!;
    expect(task.captured).toBe(0);
    const companies = await h.repos.companies.list(later.taskId);
    const reused = companies.filter((c) => c.status === 'reused');
    expect(reused.map((c) => c.company_id)).toEqual(earlier.companyIds.slice(0, 2));
    const saved = reused.reduce((s, c) => s + c.price, 0);

    const { markdown, tree } = later;
    expect(markdown).toContain(`2 record(s) bought · 2 reused from memory (saving ${formatMoney(saved)}) · 3 owned earlier · data spend 0.00`);
    expect(markdown).toContain(`Reused from the tenant's memory at no charge: 2 record(s), saving ${formatMoney(saved)} CNY (their listed prices).`);
    // The day each was bought: the purchase's, as the memory tells it.
    const origins = (await h.repos.memory.reuseSources([later.taskId])).get(later.taskId)!;
    for (const c of reused) {
      const day = origins.get(c.company_id)!.boughtAt.toISOString().slice(0, 10);
      expect(markdown).toContain(`reused from memory (the tenant's purchase bought in task ${earlier.taskId} on ${day}, receipt ${c.receipt_id}), no charge`);
    }

    // The other three records the tenant owns on the theme, as owned earlier: sections, comparison rows, sources.
    const owned = earlier.companyIds.slice(2);
    const headings = tree.children.filter((n) => n.type === 'heading').map((n) => toString(n));
    expect(headings.filter((t) => t.startsWith('company_detail: '))).toHaveLength(2);
    const ownedSections = headings.filter((t) => t.startsWith('owned_record: '));
    expect(ownedSections.map((t) => /\((\S+)\)$/.exec(t)![1]).sort()).toEqual([...owned].sort());
    expect(headings).toContain('Owned earlier');

    const sources = sectionList(tree, 'Sources');
    expect(sources).toHaveLength(5);
    expect(sources.slice(0, 2).every((l) => !l.includes('owned earlier'))).toBe(true);
    for (const [i, line] of sources.slice(2).entries()) {
      expect(line.startsWith(`[${i + 3}] `)).toBe(true);
      expect(line).toMatch(/owned earlier: bought \d+ (s|min) ago \(\d{4}-\d{2}-\d{2}\)$/);
    }
    const offName = (await h.repos.companies.get(offTheme.taskId, offTheme.companyIds[0]!))!.name;
    expect(markdown).not.toContain(offName);

    const comparisonAt = tree.children.findIndex((n) => n.type === 'heading' && toString(n) === 'Comparison');
    const table = tree.children.slice(comparisonAt).find((n) => n.type === 'table') as Parent;
    const rows = table.children.slice(1).map((r) => (r as Parent).children.map((c) => toString(c)));
    expect(rows).toHaveLength(5);
    expect(rows.slice(2).every((r) => /\(owned earlier, \d+ (s|min) old\)$/.test(r[0]!))).toBe(true);
    expect(rows.map((r) => r[9])).toEqual(['[1]', '[2]', '[3]', '[4]', '[5]']);
    // Every [n] resolves to one of the five sources.
    for (const [, n] of toString(tree).matchAll(/\[(\d+)\](?!\()/g)) expect(Number(n) >= 1 && Number(n) <= 5).toBe(true);
  });

  it("another tenant's report retrieves nothing of this tenant's memory", async () => {
    const theirs = await runTask({ theme: 'semiconductor', maxCompanies: 1, headers: { authorization: 'Bearer other-key' } });
    expect(theirs.markdown).not.toContain('Owned earlier');
    expect(theirs.markdown).not.toContain('owned earlier');
    expect((await h.repos.tasks.get(theirs.taskId))!.captured).toBeGreaterThan(0);
  });
});
