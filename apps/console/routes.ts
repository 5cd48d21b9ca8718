import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { consolePage } from './page.tsx';
import { PAGE_HEADERS } from './csp.ts';

/** The console's static files, read once from assets/ next to this module: name → type. */
const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  type: string;
  etag: string;
}

/** Loads an asset once; its ETag is a digest of its bytes, so a changed file is fetched again. */
function loader() {
  const cache = new Map<string, Asset>();
  return (name: string): Asset | undefined => {
    const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!type) return undefined;
    let asset = cache.get(name);
    if (!asset) {
      const body = new Uint8Array(readFileSync(new URL(`./assets/${name}`, import.meta.url))) as Uint8Array<ArrayBuffer>;
      asset = { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
      cache.set(name, asset);
    }
    return asset;
  };
}

/**
 * The tenant's console, mounted at /console (no credentials: the pages carry no data; the script reads
 * the API with the key the person types, kept in the tab's sessionStorage):
 * GET /console, GET /console/tasks/:id (the same page, opened on that task), and its three files.
 */
export function consoleRoutes(): Hono {
  const asset = loader();
  const page = async (taskId?: string) => `<!doctype html>\n${await consolePage(taskId)}`;
  return new Hono({ strict: false })
    .get('/', async (c) => c.body(await page(), 200, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' }))
    .get('/tasks/:id', async (c) => c.body(await page(c.req.param('id')), 200, { ...PAGE_HEADERS, 'content-type': 'text/html; charset=utf-8' }))
    .get('/:asset', (c) => {
      const found = asset(c.req.param('asset'));
      if (!found) return c.notFound();
      const headers = { 'content-type': found.type, etag: found.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
      if (c.req.header('if-none-match') === found.etag) return c.body(null, 304, headers);
      return c.body(found.body, 200, headers);
    });
}
