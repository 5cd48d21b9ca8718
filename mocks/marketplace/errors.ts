import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** One JSON:API error object as the marketplace writes it. */
export interface JsonApiError {
  status: string;
  code: string;
  title: string;
  detail: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Builds a JSON:API error document `{ errors: [ { status, code, title, detail } ], meta? }`. */
export function errorDocument(status: number, code: string, detail: string, meta?: Record<string, unknown>): {
  errors: JsonApiError[];
  meta?: Record<string, unknown>;
} {
  const doc: { errors: JsonApiError[]; meta?: Record<string, unknown> } = {
    errors: [{ status: String(status), code, title: TITLES[status] ?? 'Error', detail }],
  };
  if (meta) doc.meta = meta;
  return doc;
}

/** Answers a JSON:API error. */
export function sendError(c: Context, status: number, code: string, detail: string, meta?: Record<string, unknown>): Response {
  return c.json(errorDocument(status, code, detail, meta), status as ContentfulStatusCode);
}
