import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError } from '../../shared/errors.ts';

/** The largest request body the gateway reads; the app refuses more before reading it (app.ts, hono/body-limit). */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Whether a Content-Type names JSON: exactly `application/json` or `application/<anything>+json`, with
 * parameters or without — not look-alikes such as `application/json-seq` or `application/jsonp`.
 */
export function isJsonMediaType(type: string | undefined): boolean {
  return /^\s*application\/(?:[a-z0-9!#$&^_.+-]+\+)?json\s*(?:;.*)?$/is.test(type ?? '');
}

/** Reads a JSON body: wrong media type → 415, not JSON → 400 (too large was refused before: 413). */
export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type');
  if (!isJsonMediaType(type)) throw new ApiError('unsupported_media_type', `expected Content-Type: application/json, got "${type?.slice(0, 100) || 'none'}"`);
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError('invalid_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Validates input against a schema; every problem is named with its path. */
export function validate<T extends z.ZodType>(schema: T, input: unknown, what = 'request'): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const pathOf = (parts: PropertyKey[]) => (parts.length ? parts.map(String).join('.') : '(root)');
  // An unknown field is named by its own path, one error each.
  const errors = result.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ path: pathOf([...i.path, k]), message: 'is not a known field' })) : [{ path: pathOf(i.path), message: i.message }],
  );
  throw new ApiError('validation_failed', `the ${what} is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}
