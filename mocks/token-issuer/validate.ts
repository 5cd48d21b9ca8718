import type { Context } from 'hono';
import type { z } from 'zod';
import { describeIssues, readJsonBody } from '../lib/json-body.ts';
import { parseAmount } from '../lib/money.ts';
import { IssuerError } from './errors.ts';

/** Reads and validates a JSON body; throws 400 `invalid_request` naming the bad field. */
export async function parseBody<T>(c: Context, schema: z.ZodType<T>, emptyAsObject = false): Promise<T> {
  const body = await readJsonBody(c, emptyAsObject);
  if (!body.ok) throw new IssuerError(400, 'invalid_request', body.message);
  const parsed = schema.safeParse(body.value);
  if (!parsed.success) throw new IssuerError(400, 'invalid_request', describeIssues(parsed.error.issues));
  return parsed.data;
}

/** Parses an amount field into fen; throws 400 `invalid_request` naming the field. */
export function amountField(value: unknown, field = 'amount'): number {
  const fen = parseAmount(value);
  if (fen === null) {
    throw new IssuerError(400, 'invalid_request', `${field}: must be a positive decimal with at most two places, e.g. "50.00"`);
  }
  return fen;
}

/** Reads an optional Idempotency-Key header (blank counts as absent; at most 255 characters). */
export function idempotencyKey(c: Context): string | undefined {
  const key = c.req.header('idempotency-key');
  if (key === undefined || key.trim() === '') return undefined;
  if (key.length > 255) throw new IssuerError(400, 'invalid_request', 'Idempotency-Key must be at most 255 characters');
  return key;
}
