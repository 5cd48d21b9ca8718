import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeRecord, PAID_SECTIONS } from './completeness.ts';

const full = { name: 'X Co.', unifiedSocialCreditCode: '91X', financials: [{ year: 2023 }], shareholders: [{ name: 'A' }], contacts: { email: 'a@b' }, riskNotes: [] };

describe('judgeRecord', () => {
  it('owes nothing back for a complete record (an empty list is an answer, not a gap)', () => {
    expect(judgeRecord(full, 1250)).toEqual({ missingIdentity: [], missingSections: [], refundDue: 0 });
  });

  it('refunds an equal share per missing paid section, rounded down to the fen', () => {
    const { financials: _f, shareholders: _s, ...partial } = full;
    expect(judgeRecord(partial, 1250)).toEqual({ missingIdentity: [], missingSections: ['financials', 'shareholders'], refundDue: 625 });
    expect(judgeRecord({ ...partial, contacts: null }, 375).refundDue).toBe(281);
  });

  it('names a record without its identity, so it is refunded as bad data', () => {
    expect(judgeRecord({ ...full, unifiedSocialCreditCode: ' ' }, 1000).missingIdentity).toEqual(['unifiedSocialCreditCode']);
  });

  it('never owes back more than the price, and owes all of it when every paid section is missing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.subarray([...PAID_SECTIONS]), (price, missing) => {
        const record: Record<string, unknown> = { ...full };
        for (const m of missing) delete record[m];
        const due = judgeRecord(record, price).refundDue;
        expect(Number.isSafeInteger(due)).toBe(true);
        expect(due).toBeGreaterThanOrEqual(0);
        expect(due).toBeLessThanOrEqual(price);
        if (missing.length === PAID_SECTIONS.length) expect(due).toBe(price);
      }),
    );
  });
});
