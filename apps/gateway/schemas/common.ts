import { z } from '@hono/zod-openapi';
import { CURRENCY } from '../../../shared/money.ts';

/** An amount of CNY on the wire: a decimal string with two places, never negative. */
export const Money = z.string().regex(/^\d+\.\d{2}$/).openapi('Money', { description: 'An amount of CNY: a decimal string with two places.', example: '50.00' });

/** The one currency the API handles. */
export const Currency = z.literal(CURRENCY).openapi('Currency', { description: 'The currency of every amount (only CNY).' });

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
