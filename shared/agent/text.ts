/** Controls (line breaks and tabs included), Unicode line/paragraph separators, and format characters (bidi, zero-width). */
const NOT_ONE_LINE = /[\p{Cc}\p{Cf}\u2028\u2029\s]+/gu;

/**
 * Untrusted text (a model's reason, a provider's name) as one line of at most `max` characters: runs
 * of controls, format characters and white space become one space, the ends are trimmed, and a longer
 * text is cut (code points, not halves of a surrogate pair) with `…` as its last character.
 */
export function oneLine(text: unknown, max: number): string {
  if (typeof text !== 'string') return '';
  const flat = text.replace(NOT_ONE_LINE, ' ').trim();
  const points = Array.from(flat);
  return points.length <= max ? flat : `${points.slice(0, Math.max(0, max - 1)).join('')}…`;
}
