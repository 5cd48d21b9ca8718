import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { capRecord, PROVIDER_LIMITS, TRUNCATED_KEY, truncationNote } from './limits.ts';

const withoutNote = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== TRUNCATED_KEY));
const jsonBytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

/** Every string of a record with the limit it is held to: names and field names 200, other text 2,000. */
function strings(v: unknown, key?: string): Array<{ limit: number; text: string }> {
  if (typeof v === 'string') return [{ limit: key === 'name' ? PROVIDER_LIMITS.name : PROVIDER_LIMITS.field, text: v }];
  if (Array.isArray(v)) return v.flatMap((x) => strings(x));
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [{ limit: PROVIDER_LIMITS.name, text: k }, ...strings(x, k)]);
  return [];
}

describe('capRecord', () => {
  it('leaves a record within the limits as it is, with no note', () => {
    const record = { name: 'n'.repeat(200), city: 'Hefei', notes: ['x'.repeat(2000)], financials: [{ year: 2023, revenue: '1' }] };
    const out = capRecord(record);
    expect(out.record).toEqual(record);
    expect(out.truncated).toEqual([]);
    expect(TRUNCATED_KEY in out.record).toBe(false);
  });

  it('cuts names at 200 characters and other text at 2,000, anywhere in the record, and notes each', () => {
    const out = capRecord({
      name: 'N'.repeat(5000),
      riskNotes: ['ok', 'r'.repeat(2001)],
      contacts: { address: 'a'.repeat(3000), phone: '1' },
      shareholders: [{ name: 's'.repeat(201), stakePercent: '10.00' }],
    });
    expect(out.record.name).toBe(`${'N'.repeat(199)}…`);
    expect(out.record.riskNotes).toEqual(['ok', `${'r'.repeat(1999)}…`]);
    expect(out.record.contacts).toEqual({ address: `${'a'.repeat(1999)}…`, phone: '1' });
    expect(out.record.shareholders).toEqual([{ name: `${'s'.repeat(199)}…`, stakePercent: '10.00' }]);
    expect(out.truncated).toEqual(['name', 'riskNotes[1]', 'contacts.address', 'shareholders[0].name']);
    expect(truncationNote(out.record)).toEqual(out.truncated);
  });

  it('counts characters, not UTF-16 units, and never splits a surrogate pair', () => {
    const out = capRecord({ name: '🔋'.repeat(150), other: '电'.repeat(2500) });
    expect(out.record.name).toBe('🔋'.repeat(150));
    expect(Array.from(out.record.other as string)).toHaveLength(2000);
    expect(out.truncated).toEqual(['other']);
  });

  it("drops a note sent by the provider: the note on a stored record is always ours", () => {
    const forged = capRecord({ name: 'Acme', [TRUNCATED_KEY]: ['nothing to see'] });
    expect(forged.record).toEqual({ name: 'Acme' });
    expect(truncationNote(forged.record)).toEqual([]);
  });

  it('keeps a record under 64 KiB, leaving out the largest top-level fields first and noting them', () => {
    const bloat = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`filler${i}`, 'x'.repeat(2000)]));
    const out = capRecord({ ...bloat, name: 'Acme Co.', unifiedSocialCreditCode: '91110000ABC', financials: [{ year: 2023, revenue: '100' }], huge: ['y'.repeat(2000), 'y'.repeat(2000)] });
    const kept = withoutNote(out.record);
    expect(jsonBytes(kept)).toBeLessThanOrEqual(PROVIDER_LIMITS.recordBytes);
    expect(kept).toMatchObject({ name: 'Acme Co.', unifiedSocialCreditCode: '91110000ABC', financials: [{ year: 2023, revenue: '100' }] });
    expect(kept.huge).toBeUndefined();
    expect(out.truncated).toContain('huge (left out: the record is over 64 KiB)');
    expect(out.truncated.some((n) => /^filler\d+ \(left out/.test(n))).toBe(true);
    // The fields kept keep the provider's order.
    expect(Object.keys(kept).slice(-3)).toEqual(['name', 'unifiedSocialCreditCode', 'financials']);
  });

  it('keeps the keepFirst fields before smaller ones', () => {
    const tags = Array.from({ length: 40 }, () => 't'.repeat(1500));
    const small = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, 'z'.repeat(100)]));
    const out = capRecord({ name: 'Acme', tags, ...small }, { keepFirst: ['name', 'tags'] });
    expect(out.record.tags).toEqual(tags);
    expect(jsonBytes(withoutNote(out.record))).toBeLessThanOrEqual(PROVIDER_LIMITS.recordBytes);
  });

  it('lists at most 20 notes and counts the rest', () => {
    const out = capRecord({ list: Array.from({ length: 30 }, () => 'q'.repeat(2001)) });
    expect(out.truncated).toHaveLength(21);
    expect(out.truncated.at(-1)).toBe('and 10 more');
  });

  it('cuts an overlong field name, and keeps a field named __proto__ as a plain field', () => {
    const record = JSON.parse(`{"${'k'.repeat(300)}": 1, "__proto__": {"polluted": true}}`);
    const out = capRecord(record);
    expect(Object.keys(out.record)).toEqual([`${'k'.repeat(199)}…`, '__proto__', TRUNCATED_KEY]);
    expect(Object.getPrototypeOf(out.record)).toBe(Object.prototype);
    expect(({} as any).polluted).toBeUndefined();
  });

  it('holds any JSON record to the limits', () => {
    const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ minLength: 150, maxLength: 3000 }));
    const record = fc.dictionary(fc.oneof(fc.constant('name'), text), fc.jsonValue({ maxDepth: 3 }).chain((v) => fc.oneof(fc.constant(v), text, fc.array(text, { maxLength: 40 }))), { maxKeys: 60 });
    fc.assert(
      fc.property(record, (r) => {
        const out = capRecord(r);
        expect(jsonBytes(withoutNote(out.record))).toBeLessThanOrEqual(PROVIDER_LIMITS.recordBytes);
        for (const s of strings(withoutNote(out.record))) expect(Array.from(s.text).length).toBeLessThanOrEqual(s.limit);
        expect(out.truncated.length).toBeLessThanOrEqual(PROVIDER_LIMITS.notes + 1);
        if (out.truncated.length === 0) expect(out.record).toEqual(r);
      }),
      { numRuns: 150 },
    );
  });
});
