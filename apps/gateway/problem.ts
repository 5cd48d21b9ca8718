import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, isDependencyDown, problemBody, type ErrorCode, type FieldError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { taskOf } from './observe.ts';

/** Answers with an RFC 9457 problem+json body. */
export function problem(c: Context, code: ErrorCode, detail: string, errors?: FieldError[]): Response {
  const body = problemBody(code, detail, errors);
  return c.newResponse(JSON.stringify(body), body.status as 400, { 'content-type': 'application/problem+json' });
}

/** The app's error handler: known errors become their problem; anything else a logged 500. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof ApiError) {
      if (err.code === 'unauthorized') c.header('WWW-Authenticate', 'Bearer realm="agent-research-pay"');
      return problem(c, err.code, err.message, err.errors);
    }
    if (err instanceof HTTPException) {
      // Keep the challenge (e.g. basic auth's WWW-Authenticate), so a browser asks for credentials.
      const challenge = err.getResponse().headers.get('www-authenticate');
      if (challenge) c.header('WWW-Authenticate', challenge);
      const code: ErrorCode =
        err.status === 401 ? 'unauthorized' : err.status === 413 ? 'payload_too_large' : err.status === 404 ? 'not_found' : err.status === 415 ? 'unsupported_media_type' : 'validation_failed';
      const detail = err.status === 401 ? 'sign in with the admin user and password' : err.message || 'request rejected';
      return problem(c, code, detail);
    }
    if (isDependencyDown(err)) {
      log.warn({ err: err.message, path: c.req.path, ...taskField(c) }, 'a dependency is down');
      c.header('Retry-After', '5');
      return problem(c, 'service_unavailable', 'the service cannot reach its database or queue right now; retry shortly');
    }
    log.error({ err: err.message, stack: err.stack, path: c.req.path, ...taskField(c) }, 'unhandled error');
    return problem(c, 'internal_error', 'an unexpected error occurred; it has been logged');
  };
}

/** The task the failed request concerned, for its log line. */
function taskField(c: Context): { taskId?: string } {
  const taskId = taskOf(c);
  return taskId ? { taskId } : {};
}
