import { escapeInline } from '../../shared/markdown/escape.ts';

/** The note a forgotten record's section is left with. */
const REMOVED = "Record removed at the tenant's request";

/**
 * Takes a company's record out of a stored report, for a tenant that asked us to forget it: the
 * record's section (`### company_detail: …` or `### owned_record: …`, down to the next heading) keeps
 * its heading and says the record was removed, and the "What stands out" lines and Summary sentences
 * that cite it — they may name a shareholder — are left out. The comparison's figures, the purchases
 * and the sources stay: they are about the company and the money, not about people. Every heading of a
 * report is ours and a value cannot open one (shared/markdown/escape.ts), so the sections are found by
 * their heading lines. Returns the new text, or undefined when the report holds no section of the
 * company (or only forgotten ones).
 */
export function forgetInReport(markdown: string, companyId: string, when: Date): string | undefined {
  const suffix = ` (${escapeInline(companyId)})`;
  const isSection = (line: string) => (line.startsWith('### company_detail: ') || line.startsWith('### owned_record: ')) && line.endsWith(suffix);
  const isHeading = (line: string) => /^#{1,3} /.test(line);
  const lines = markdown.split('\n');
  const out: string[] = [];
  const refs = new Set<string>();
  let found = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!isSection(line)) {
      out.push(line);
      continue;
    }
    let end = i + 1;
    if (lines.slice(end).find((l) => l.trim() !== '')?.startsWith(REMOVED)) {
      out.push(line); // forgotten before
      continue;
    }
    found = true;
    while (end < lines.length && !isHeading(lines[end]!)) {
      for (const m of lines[end]!.matchAll(/Source((?: \\\[\d+\\\])+)\.$/g)) for (const r of m[1]!.matchAll(/\\\[(\d+)\\\]/g)) refs.add(r[1]!);
      end++;
    }
    out.push(line, '', `${REMOVED} on ${when.toISOString().slice(0, 10)}: its fields are no longer kept.`, '');
    i = end - 1;
  }
  if (!found) return undefined;
  return dropCitations(out, refs).join('\n');
}

const cites = (text: string, refs: ReadonlySet<string>) => [...text.matchAll(/\\\[(\d+)\\\]/g)].some((m) => refs.has(m[1]!));

/**
 * What cites one of `refs` is left out: the "What stands out" lines, and the Summary's sentences (a
 * sentence ends with its reference marks; text before marks counts with them, so a sentence without a
 * source next to a cited one goes too).
 */
function dropCitations(lines: string[], refs: ReadonlySet<string>): string[] {
  let section = '';
  const out: string[] = [];
  for (const line of lines) {
    if (/^#{1,2} /.test(line)) section = line;
    if (section === '## What stands out' && line.startsWith('- ') && cites(line, refs)) continue;
    if (section === '## Summary' && line !== section && line.trim()) {
      const sentences = line.match(/.*?(?: \\\[\d+\\\])+(?= |$)|.+$/g) ?? [line];
      const kept = sentences.filter((x) => !cites(x, refs)).map((x) => x.trim()).join(' ');
      if (kept) out.push(kept);
      continue;
    }
    out.push(line);
  }
  return out;
}
