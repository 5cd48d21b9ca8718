import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** A failure the issuer answers as `{ error: { code, message } }` with an HTTP status. */
export class IssuerError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'IssuerError';
    this.status = status;
    this.code = code;
  }
}

/** Builds the issuer's error body. */
export function issuerErrorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** Answers an issuer error. */
export function sendIssuerError(c: Context, status: number, code: string, message: string): Response {
  return c.json(issuerErrorBody(code, message), status as ContentfulStatusCode);
}
