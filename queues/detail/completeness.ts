/**
 * What a paid company record must hold. Without its identity it is worthless (refunded in full, as bad
 * data); each paid section that is missing is refunded at an equal share of the price.
 */
export const IDENTITY_FIELDS = ['name', 'unifiedSocialCreditCode'] as const;
export const PAID_SECTIONS = ['financials', 'shareholders', 'contacts', 'riskNotes'] as const;

export interface Completeness {
  /** Identity fields the record lacks: non-empty means it is not the record that was bought. */
  missingIdentity: string[];
  missingSections: string[];
  /** What the record's shortfall is worth, in fen, rounded down (the buyer never gets more back than paid). */
  refundDue: number;
}

/**
 * A section is delivered when its key is there and not null. An empty list is an answer ("no risk
 * notes"), not a gap; an empty identity string is a gap.
 */
function present(v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v === 'string') return v.trim() !== '';
  return true;
}

/** Judges a delivered record against what was paid for (price in fen). */
export function judgeRecord(record: Record<string, unknown>, price: number): Completeness {
  const missingIdentity = IDENTITY_FIELDS.filter((f) => !present(record[f]));
  const missingSections = PAID_SECTIONS.filter((f) => !present(record[f]));
  const refundDue = Math.floor((price * missingSections.length) / PAID_SECTIONS.length);
  return { missingIdentity, missingSections, refundDue };
}
