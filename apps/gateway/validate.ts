import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { ApiError } from '../../shared/errors.ts';
import { formatMoney, MoneyFormatError, parseMoney } from '../../shared/money.ts';

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
  throw validationError(result.error, what);
}

/** A 400 validation_failed naming every problem by its path; an unknown field by its own path, one error each. */
export function validationError(error: z.ZodError, what: string): ApiError {
  const pathOf = (parts: PropertyKey[]) => (parts.length ? parts.map(String).join('.') : '(root)');
  const errors = error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ path: pathOf([...i.path, k]), message: 'is not a known field' })) : [{ path: pathOf(i.path), message: i.message }],
  );
  return new ApiError('validation_failed', `the ${what} is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}

/** How each part of a request is named in a validation problem's detail. */
const PART: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header', cookie: 'cookie', form: 'form' };

/**
 * The validation hook of every route with a contract (@hono/zod-openapi): a request the contract's
 * schemas refuse is the same 400 validation_failed problem `validate` throws, one error per field.
 */
export function validationHook(result: { success: true } | { success: false; error: z.ZodError; target: string }): void {
  if (!result.success) throw validationError(result.error, PART[result.target] ?? 'request');
}

/**
 * Route middleware of a route with a JSON body, run before its contract's validators: 415 when the body
 * is not declared as JSON by our rule (`isJsonMediaType`), 400 invalid_json when it does not parse (too
 * large was refused before: 413). Once accepted, the body is handed on as plain `application/json`:
 * @hono/zod-openapi's media-type gate reads parameters more strictly than RFC 9110 does (it refuses
 * `application/json ; charset=utf-8`), and JSON has no parameter that changes how it is read. The
 * validator then reads the same body from Hono's cache.
 */
export const jsonBody = createMiddleware(async (c, next) => {
  await readJson(c);
  c.req.raw.headers.set('content-type', 'application/json');
  await next();
});

/**
 * A theme or voice id is one line of visible text: no control characters (C0 with tab, CR and LF; DEL;
 * C1), no Unicode line or paragraph separator, and no format character (Unicode category Cf): bidi
 * overrides, embeddings, isolates and marks make text read other than it is, and zero-width spaces,
 * joiners and the BOM hide text or make two themes that look the same differ. (Cf also holds the
 * zero-width joiner of emoji sequences such as 👩‍🔬 — a research theme does without.) Postgres text cannot
 * hold NUL either. Checked before trimming, so a trailing line break is refused too.
 */
export const oneLine = (s: string) => !/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(s);
export const ONE_LINE = 'must be one line of visible text: no line breaks, tabs, control characters, bidi controls or zero-width characters';

/** An amount of CNY: a decimal string or a JSON number, > 0, ≤ `maxFen`, at most two decimals → fen. */
export function positiveAmount(maxFen: number) {
  return z.union([z.string(), z.number()], { error: 'must be a decimal string like "50.00" or a number' }).transform((value, ctx) => {
    try {
      const fen = parseMoney(value);
      if (fen <= 0) ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
      else if (fen > maxFen) ctx.addIssue({ code: 'custom', message: `must be at most ${formatMoney(maxFen)}` });
      return fen;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof MoneyFormatError ? err.message : 'is not an amount' });
      return z.NEVER;
    }
  });
}
