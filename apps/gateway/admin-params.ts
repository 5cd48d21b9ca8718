import { z } from 'zod';
import { ApiError } from '../../shared/errors.ts';
import { validate } from './validate.ts';

/** A tenant named in an admin path: 1–64 letters, digits, `.`, `_` or `-`, starting with a letter or digit. */
export const TENANT_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The `:tenant` of an admin path, checked (400 naming `tenant`). */
export function tenantParam(value: string | undefined): string {
  return validate(z.object({ tenant: z.string().regex(TENANT_RULE, 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit') }), { tenant: value }, 'path').tenant;
}

const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/**
 * An instant in a query: a UTC day (`2026-11-29`, its midnight) or an ISO 8601 date-time with a zone
 * (`2026-11-29T08:00:00Z`, `…+08:00`). A time without a zone would mean a different instant on every
 * server, so it is refused.
 */
const instant = z.preprocess(
  blankIsUnset,
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/, 'must be a UTC day (2026-11-29) or an ISO 8601 time with a zone (2026-11-29T08:00:00Z)')
    .transform((s, ctx) => {
      const at = new Date(s.length === 10 ? `${s}T00:00:00Z` : s);
      if (Number.isNaN(at.getTime()) || (s.length === 10 && at.toISOString().slice(0, 10) !== s)) {
        ctx.addIssue({ code: 'custom', message: 'is not a real date' });
        return z.NEVER;
      }
      return at;
    })
    .optional(),
);

/** `from` (inclusive) and `to` (exclusive) of a query; either may be left out. */
export const timeRange = { from: instant, to: instant };

/** Refuses a range that ends before it starts (400 naming `to`). */
export function checkRange(range: { from?: Date; to?: Date }): void {
  if (range.from && range.to && range.to <= range.from) {
    throw new ApiError('validation_failed', 'the query is not valid: to: must be after from', [{ path: 'to', message: 'must be after from' }]);
  }
}
