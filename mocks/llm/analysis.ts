import { COMPANIES } from '../data/companies.ts';
import { hashString, mulberry32, pick } from '../lib/prng.ts';

/** A chat message as the mock reads it: text content, or a list of parts of which the text ones count. */
export interface ChatMessage {
  role: string;
  content?: string | Array<{ type?: string; text?: string }> | null;
}

/** The text of a message (text parts joined). */
export function messageText(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  if (Array.isArray(message.content)) return message.content.map((p) => (typeof p.text === 'string' ? p.text : '')).join('\n');
  return '';
}

const COMPANY_PATTERN =
  /\b[A-Z][\w&'-]*(?:\s+[A-Z][\w&'.-]*){0,5}\s+(?:Co\.,\s*Ltd\.|Technology Co\.|Co\.|Ltd\.|Group|Holdings|Inc\.|Corp\.|Corporation|Limited)/g;

/**
 * Finds company names in a text, in order of first appearance: names of the marketplace data set, and
 * anything shaped like "Xxx Yyy Co., Ltd." / "Group" / "Holdings" / "Inc.".
 */
export function findCompanyNames(text: string): string[] {
  const found: Array<{ name: string; at: number }> = [];
  const lower = text.toLowerCase();
  for (const company of COMPANIES) {
    const at = lower.indexOf(company.name.toLowerCase());
    if (at >= 0) found.push({ name: company.name, at });
  }
  for (const match of text.matchAll(COMPANY_PATTERN)) {
    const name = match[0].trim();
    const at = match.index ?? 0;
    const overlaps = found.some((f) => at < f.at + f.name.length && f.at < at + name.length);
    if (!overlaps) found.push({ name, at });
  }
  found.sort((a, b) => a.at - b.at);
  return [...new Set(found.map((f) => f.name))];
}

/** The research theme: a `Theme:` line when there is one, else the first line of the text (≤ 120 chars). */
export function findTheme(text: string): string {
  const line = /^\s*(?:\*\*)?theme(?:\*\*)?\s*[:：]\s*(.+)$/im.exec(text);
  const theme = (line?.[1] ?? text.split('\n').find((l) => l.trim() !== '') ?? '').replace(/^[#>*\s-]+/, '').trim();
  return theme.length > 120 ? `${theme.slice(0, 117)}...` : theme || 'the requested theme';
}

const ANGLES = [
  'appears well positioned on scale and customer reach',
  'shows a profile worth a closer look at margins and cash flow',
  'stands out for its technology focus relative to peers',
  'carries concentration risk that deserves follow-up',
  'looks like a steady operator rather than a fast grower',
  'is a candidate for deeper diligence on its shareholders',
];

const OBSERVATIONS = [
  'Compare revenue trends across the purchased records before drawing conclusions.',
  'Risk notes in the records matter more than headline growth for a first screen.',
  'Patent counts suggest where the technical depth of the group lies.',
  'Shareholder structures differ widely; founder-controlled firms dominate the set.',
  'Regional clustering hints at supply-chain proximity advantages.',
  'Registered capital is not a proxy for operating scale; read it with the financials.',
];

/**
 * Writes a deterministic markdown analysis of a conversation: the same messages always give the same text.
 * It names the companies found in the user messages and adds a few generic observations.
 */
export function writeAnalysis(messages: readonly ChatMessage[]): string {
  const userText = messages.filter((m) => m.role === 'user').map(messageText).join('\n\n');
  const allText = messages.map(messageText).join('\n\n');
  const rand = mulberry32(hashString(allText));
  const companies = findCompanyNames(userText);
  const industryOf = new Map(COMPANIES.map((c) => [c.name, c.industry]));

  const lines = ['## Analysis', '', `**Theme:** ${findTheme(userText)}`, ''];
  if (companies.length === 0) {
    lines.push('No company names were found in the brief, so this analysis stays general.', '');
  } else {
    lines.push(`The brief covers ${companies.length} compan${companies.length === 1 ? 'y' : 'ies'}: ${companies.join(', ')}.`, '');
    for (const name of companies) {
      const industry = industryOf.get(name);
      lines.push(`- **${name}**${industry ? ` (${industry})` : ''} ${pick(rand, ANGLES)}.`);
    }
    lines.push('');
  }
  lines.push('### Observations', '');
  const first = Math.floor(rand() * OBSERVATIONS.length);
  for (let i = 0; i < 3; i++) lines.push(`- ${OBSERVATIONS[(first + i) % OBSERVATIONS.length]}`);
  lines.push('', '### Caveats', '', '- This analysis adds no facts beyond the records supplied in the prompt.');
  return lines.join('\n');
}
