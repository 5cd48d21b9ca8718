import { z } from '@hono/zod-openapi';
import { CURRENCY } from '../../../shared/money.ts';

/** An amount of CNY on the wire: a decimal string with two places, never negative. */
export const Money = z.string().regex(/^\d+\.\d{2}$/).openapi('Money', { description: 'An amount of CNY: a decimal string with two places.', example: '50.00' });

/** The one currency the API handles. */
export const Currency = z.literal(CURRENCY).openapi('Currency', { description: 'The currency of every amount (only CNY).' });

const PAGE_LIMIT_RULE = 'must be a whole number from 1 to 100, in decimal digits';

/**
 * `?limit=` of a v1 list: 1–100, default 20, in decimal digits only — no `0x2`, `1e1`, ` 2` or `2.0`,
 * which a number coercion would take. `items` names what a page holds, for the document.
 */
export const pageLimit = (items: string) =>
  z
    .string()
    .regex(/^\d{1,3}$/, PAGE_LIMIT_RULE)
    .default('20')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, PAGE_LIMIT_RULE)
    .openapi({ param: { name: 'limit', in: 'query', description: `How many ${items} a page holds: 1–100 in decimal digits (default 20).` }, example: '20' });

/** A moment, as ISO 8601 in UTC (`Date.toISOString()`). */
export const Timestamp = z.iso.datetime().openapi('Timestamp', { description: 'ISO 8601, UTC.', example: '2026-11-29T08:00:00.000Z' });

/**
 * The `:id` of a task in a path. Any string is taken and looked up: one that is not a UUID cannot
 * name a task, so it is a 404 like an unknown one (not a 400), and says nothing about what exists.
 */
export const TaskIdParams = z.object({
  id: z.string().openapi({
    param: { name: 'id', in: 'path', description: "The task's id (a UUID). Anything else, or another tenant's task, is 404 `not_found`." },
    format: 'uuid',
    example: '0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33',
  }),
});
