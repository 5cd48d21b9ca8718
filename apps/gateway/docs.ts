import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { OPENAPI_PATH } from './openapi.ts';

/** Where the interactive documentation is served. */
export const DOCS_PATH = '/docs';

/** The files of swagger-ui-dist the page needs, served from node_modules: nothing comes from a CDN. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/**
 * The page may load and connect to this origin only: its scripts are files (no inline script, no
 * eval); Swagger UI sets inline styles, and its icons are data: URLs. "Try it out" calls this gateway.
 */
export const DOCS_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>agent-research-pay API</title>
<link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

/** Swagger UI on our document; `validatorUrl: null` keeps it from asking swagger.io to validate it. */
const INIT = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(OPENAPI_PATH)},
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
`;

const SECURITY_HEADERS = { 'content-security-policy': DOCS_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

/** GET /docs: interactive documentation of /openapi.json (swagger-ui-dist, served by the gateway itself). */
export function docsRoutes(): Hono {
  const dir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  const cache = new Map<string, Buffer>();
  const file = (name: string) => {
    let bytes = cache.get(name);
    if (!bytes) cache.set(name, (bytes = readFileSync(join(dir, name))));
    return bytes;
  };
  return new Hono()
    .get('/', (c) => c.body(PAGE, 200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }))
    .get('/init.js', (c) => c.body(INIT, 200, { 'content-type': 'text/javascript; charset=utf-8', 'x-content-type-options': 'nosniff' }))
    .get('/:asset', (c) => {
      const name = c.req.param('asset');
      const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!type) return c.notFound();
      return c.body(new Uint8Array(file(name)), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400', 'x-content-type-options': 'nosniff' });
    });
}
