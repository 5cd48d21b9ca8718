import type { Context } from 'hono';

/** The outcome of reading a request body as JSON. */
export type JsonBody = { ok: true; value: unknown } | { ok: false; message: string };

/**
 * Reads the request body as JSON without throwing. An empty body reads as `{}` when `emptyAsObject`
 * is set (for endpoints whose whole body is optional), otherwise it is an error.
 */
export async function readJsonBody(c: Context, emptyAsObject = false): Promise<JsonBody> {
  const text = await c.req.text();
  if (text.trim() === '') {
    return emptyAsObject ? { ok: true, value: {} } : { ok: false, message: 'request body is empty; expected JSON' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, message: 'request body is not valid JSON' };
  }
}

/** Formats the first zod-style issue list as one line: `amount: must be …; tokenId: required`. */
export function describeIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}
