import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../shared/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { undocumentedRoutes, unservedOperations } from '../../test/support/conformance.ts';
import { openHarness, type Harness } from '../../test/support/harness.ts';
import { OpenApiContract } from '../../test/support/openapi.ts';
import { redoclyLint } from '../../test/support/redocly.ts';
import { createApp } from './app.ts';
import { DOCS_CSP } from './docs.ts';

/** What the gateway's document must describe: the v1 API and the probes (issue 12). */
const DOCUMENTED = ['/v1', '/healthz', '/readyz'];

/**
 * Warnings of the linter the document keeps, each for a reason. Anything else it reports — any error,
 * any other warning — fails the lint test.
 */
const ACCEPTED_WARNINGS = [
  // A private API: there is no licence to state.
  { ruleId: 'info-license', pointer: '#/info' },
  // The probes answer no client error: 200, or 503 from /readyz.
  { ruleId: 'operation-4xx-response', pointer: '#/paths/~1healthz/get/responses' },
  { ruleId: 'operation-4xx-response', pointer: '#/paths/~1readyz/get/responses' },
  // The operators' scheme exists and is described; its routes (/admin/*, /metrics) are left out on purpose.
  { ruleId: 'no-unused-components', pointer: '#/components/securitySchemes/adminBasic' },
];

/**
 * GET /openapi.json (issue 12): the gateway's OpenAPI 3.1 document, generated from the zod schemas its
 * routes validate with. It lints clean, covers every /v1 route the app serves (and nothing else the
 * app serves is missing from it), and documents each problem by the status the error registry gives
 * its code. That the answers conform is proved by openapi.conformance.test.ts and by every test that
 * goes through the harness, which holds each answer to this document.
 */
describe('the OpenAPI document', () => {
  let h: Harness;
  let doc: any;
  let contract: OpenApiContract;

  beforeAll(async () => {
    h = await openHarness();
    const res = await h.app.request('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = await res.json();
    contract = new OpenApiContract(doc, 'the gateway document');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is OpenAPI 3.1, served without credentials, the same on every request', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toMatch(/^\d+\.\d+\.\d+$/);
    const again = await (await h.app.request('/openapi.json')).json();
    expect(again).toEqual(doc);
  });

  it('documents the v1 API and the probes, and none of the routes left out on purpose', () => {
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(expect.arrayContaining(['/v1/tasks', '/v1/tasks/{id}', '/v1/tasks/{id}/cancel', '/v1/tasks/{id}/report', '/v1/tasks/{id}/payments', '/v1/tasks/{id}/usage', '/v1/usage', '/healthz', '/readyz']));
    for (const path of paths) expect(DOCUMENTED.some((p) => path === p || path.startsWith(`${p}/`)), path).toBe(true);
    for (const hidden of ['/admin', '/metrics', '/docs', '/console', '/openapi.json']) {
      expect(paths.filter((p) => p.startsWith(hidden))).toEqual([]);
    }
  });

  it('lacks no /v1 route the app serves, and documents none it does not serve', () => {
    expect(undocumentedRoutes(h.app, contract, DOCUMENTED)).toEqual([]);
    expect(unservedOperations(h.app, contract, DOCUMENTED)).toEqual([]);
  });

  it('is caught lacking a /v1 route the app serves, whichever way the route was added', async () => {
    const app = createApp({ repos: h.repos, database: h.database, producer: h.producer, redis: h.redis, log: createLogger('silent'), config: h.config });
    app.get('/v1/tasks/:id/secrets', (c) => c.json({}));
    app.route('/v1', new Hono().post('/tasks/:id/retry', (c) => c.json({})));
    app.get('/admin/extra', (c) => c.json({}));
    const served = new OpenApiContract(await (await app.request('/openapi.json')).json(), 'the second app');
    expect(undocumentedRoutes(app, served, DOCUMENTED).sort()).toEqual(['GET /v1/tasks/{id}/secrets', 'POST /v1/tasks/{id}/retry']);
  });

  it('lints clean with Redocly CLI (recommended rules): no error, no warning but the accepted ones', async () => {
    const problems = await redoclyLint(doc);
    const unexpected = problems.filter((p) => !ACCEPTED_WARNINGS.some((a) => p.severity === 'warn' && a.ruleId === p.ruleId && a.pointer === p.pointer));
    expect(unexpected).toEqual([]);
  }, 60_000);

  it('has examples that its own schemas accept', () => {
    expect(contract.exampleProblems()).toEqual([]);
    // The examples are there to be checked: the task, the create body, a problem per code.
    expect(doc.components.schemas.Task.example).toBeDefined();
    expect(doc.paths['/v1/tasks'].post.requestBody.content['application/json'].example).toBeDefined();
  });

  it('documents every problem answer by the status and code of the one error registry', () => {
    let problems = 0;
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const [status, response] of Object.entries<any>(op.responses)) {
          const content = response.content?.['application/problem+json'];
          if (!content) continue;
          problems++;
          const where = `${method.toUpperCase()} ${path} ${status}`;
          expect(content.schema.properties.status.enum, where).toEqual([Number(status)]);
          const codes: ErrorCode[] = content.schema.properties.code.enum;
          expect(codes.length, where).toBeGreaterThan(0);
          for (const code of codes) {
            expect(ERROR_CODES[code]?.status, `${where}: ${code}`).toBe(Number(status));
            expect(content.examples[code].value).toMatchObject({ status: Number(status), code, type: `urn:arp:error:${code}`, title: ERROR_CODES[code].title });
          }
        }
      }
    }
    expect(problems).toBeGreaterThan(20);
  });

  it('asks for the API key (bearer) on every /v1 operation, documents its 401, and none on the probes', () => {
    expect(doc.security).toEqual([{ apiKey: [] }]);
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.adminBasic).toMatchObject({ type: 'http', scheme: 'basic' });
    for (const op of contract.operations()) {
      const [method, path] = op.split(' ') as [string, string];
      const operation = doc.paths[path][method.toLowerCase()];
      if (path.startsWith('/v1/')) {
        expect(operation.security, op).toBeUndefined();
        expect(operation.responses['401'], op).toBeDefined();
        expect(operation.responses['500'], op).toBeDefined();
        expect(operation.responses['503'], op).toBeDefined();
      } else {
        expect(operation.security, op).toEqual([]);
      }
    }
  });

  it('documents the same request rules the route enforces (from the same schema)', () => {
    const body = doc.components.schemas.CreateTask;
    expect(body.additionalProperties).toBe(false);
    expect(body.required.sort()).toEqual(['budget', 'theme', 'voiceId']);
    expect(body.properties.theme).toMatchObject({ type: 'string', minLength: 1, maxLength: 500 });
    expect(body.properties.maxCompanies).toMatchObject({ type: 'integer', minimum: 1, maximum: 20, default: 5 });
    expect(body.properties.currency.enum).toEqual(['CNY']);
    const key = doc.paths['/v1/tasks'].post.parameters.find((p: any) => p.name === 'Idempotency-Key');
    expect(key).toMatchObject({ in: 'header', required: false, schema: { minLength: 1, maxLength: 200 } });
    const limit = doc.paths['/v1/tasks'].get.parameters.find((p: any) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'string', pattern: '^\\d{1,3}$', default: '20' } });
  });
});

/** GET /docs: interactive documentation of the document, every file served by the gateway itself. */
describe('the interactive docs', () => {
  let h: Harness;
  const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

  beforeAll(async () => {
    h = await openHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves a page, without credentials, that loads nothing from elsewhere and runs no inline script', async () => {
    for (const path of ['/docs', '/docs/']) {
      const res = await h.app.request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toBe(DOCS_CSP);
      const page = await res.text();
      expect(page).not.toMatch(/https?:\/\/|\/\/[a-z]/i);
      const scripts = [...page.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
      expect(scripts.map((m) => m[1]!.trim())).toEqual(['src="/docs/swagger-ui-bundle.js"', 'src="/docs/init.js"']);
      for (const m of scripts) expect(m[2]).toBe('');
    }
    expect(DOCS_CSP).toContain("default-src 'none'");
    expect(DOCS_CSP).toContain("script-src 'self';");
  });

  it('points Swagger UI at /openapi.json and keeps it from calling swagger.io', async () => {
    const res = await h.app.request('/docs/init.js');
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const init = await res.text();
    expect(init).toContain('url: "/openapi.json"');
    expect(init).toContain('validatorUrl: null');
  });

  it('serves the files of swagger-ui-dist from node_modules, and no other file', async () => {
    for (const [name, type] of [['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'], ['swagger-ui.css', 'text/css; charset=utf-8'], ['favicon-32x32.png', 'image/png']] as const) {
      const res = await h.app.request(`/docs/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(swaggerDir, name)))).toBe(true);
    }
    for (const path of ['/docs/index.html', '/docs/package.json', '/docs/swagger-initializer.js', '/docs/..%2Fpackage.json', '/docs/%2e%2e%2f%2e%2e%2fpackage.json']) {
      const res = await h.app.request(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });
});
