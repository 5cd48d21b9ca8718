import { OpenAPIHono } from '@hono/zod-openapi';
import type { Env } from 'hono';
import { validationHook } from './validate.ts';
// Imported, not read from disk: the compiled gateway (dist/) carries it, wherever it runs from.
import pkg from '../../package.json' with { type: 'json' };

/** Where the document is served. */
export const OPENAPI_PATH = '/openapi.json';

/**
 * Routes with contracts: each is added with `.openapi(route, handler)`, so its request is validated by
 * the contract's zod schemas (failures become the usual 400 validation_failed problem) and the contract
 * lands in the OpenAPI document when the routes are mounted with `.route()` on the app.
 */
export function contractRoutes<E extends Env = Env>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({ strict: false, defaultHook: validationHook });
}

const VERSION = pkg.version;

const DESCRIPTION = `The v1 API of agent-research-pay: post a research task with a budget; an agent buys premium company
records within it and writes a report.

Money is a decimal string with two places, in CNY (\`"50.00"\`). Every error is an RFC 9457
\`application/problem+json\` body whose \`code\` is one of the codes listed per answer. A client error is never
a 500; a database or queue outage is a 503 with \`Retry-After\`. At the door, on every route: a body over
64 KiB is 413, a body is JSON only as \`application/json\` or \`application/<x>+json\` (415 otherwise), and 20
failed sign-ins a minute from one address are 429 \`rate_limited\`.

Not in this document on purpose: the operators' pages and API (\`/admin/*\`, Bull Board, \`/metrics\`; admin
basic auth) and this documentation (\`/docs\`).`;

/**
 * Adds the security schemes that exist and serves the document at /openapi.json, generated once (on the
 * first request) from the contracts of every route mounted on `app` so far — call it after mounting them.
 */
export function serveOpenApi(app: OpenAPIHono<any>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'API key (arp_…) or JWT',
    description: 'An API key made with the admin API or listed in API_KEYS, or a JWT signed with JWT_SECRET or a key of JWT_JWKS_URL. Every task belongs to its tenant.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'adminBasic', {
    type: 'http',
    scheme: 'basic',
    description: 'ADMIN_USER/ADMIN_PASSWORD (read-only) or ADMIN_OPERATOR_USER/ADMIN_OPERATOR_PASSWORD: the operators\' routes (/admin/*, /metrics), which this document leaves out.',
  });
  let document: object | undefined;
  const build = () =>
    app.getOpenAPI31Document({
      openapi: '3.1.0',
      info: { title: 'agent-research-pay gateway', version: VERSION, description: DESCRIPTION },
      servers: [{ url: '/', description: 'This gateway' }],
      security: [{ apiKey: [] }],
      tags: [
        { name: 'tasks', description: 'Research tasks: submit, follow, cancel, read the report and the audit trail.' },
        { name: 'usage', description: 'Budget use, as the dashboard queue aggregated it.' },
        { name: 'memory', description: "The records the tenant owns: list, read, forget." },
        { name: 'health', description: 'Probes for load balancers and orchestrators; no credentials.' },
      ],
    });
  app.get(OPENAPI_PATH, (c) => {
    document ??= build();
    c.header('cache-control', 'no-cache');
    return c.json(document);
  });
}
