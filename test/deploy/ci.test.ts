import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

/* eslint-disable @typescript-eslint/no-explicit-any -- a workflow is read as plain YAML, as GitHub reads it */
type Obj = any;

const workflow: Obj = parse(readFileSync(new URL('../../.github/workflows/ci.yml', import.meta.url), 'utf8'));
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
const runs = (job: Obj): string[] => job.steps.map((s: Obj) => s.run ?? '').filter(Boolean);

/**
 * .github/workflows/ci.yml cannot run here (issue 17): its shape is checked instead — the suite on the
 * Node versions we support against real Redis and Postgres, and the image pushed only from main.
 */
describe('.github/workflows/ci.yml', () => {
  const test = workflow.jobs.test;
  const image = workflow.jobs.image;

  it('runs on pushes to main and on pull requests', () => {
    expect(workflow.on.push.branches).toEqual(['main']);
    expect(workflow.on).toHaveProperty('pull_request');
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it("runs the README's test command on Node 20, 22 and 24 (each at least package.json's engines)", () => {
    expect(test.strategy.matrix.node).toEqual(['20', '22', '24']);
    const minimumMajor = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    for (const v of test.strategy.matrix.node) expect(Number(v)).toBeGreaterThanOrEqual(minimumMajor);
    const setup = test.steps.find((s: Obj) => String(s.uses).startsWith('actions/setup-node@'));
    expect(setup.with).toEqual({ 'node-version': '${{ matrix.node }}', cache: 'npm' });
    expect(test.container).toBe('node:${{ matrix.node }}-bookworm');
    const commands = runs(test);
    expect(commands).toEqual(expect.arrayContaining(['npm ci --no-audit --no-fund', 'npm run typecheck', 'npm test']));
    expect(commands.findIndex((c) => c === 'npm test')).toBeGreaterThan(commands.findIndex((c) => c.startsWith('npm ci')));
  });

  it('gives the suite Redis and Postgres service containers, health-checked, and points it at them', () => {
    expect(test.services.redis.image).toMatch(/^redis:\d+/);
    expect(test.services.postgres.image).toMatch(/^postgres:\d+/);
    for (const svc of Object.values(test.services) as Obj[]) expect(svc.options).toContain('--health-cmd');
    expect(new URL(test.env.REDIS_URL).hostname).toBe('redis');
    const db = new URL(test.env.DATABASE_URL);
    expect(db.hostname).toBe('postgres');
    expect(db.password).toBe(test.services.postgres.env.POSTGRES_PASSWORD);
    expect(db.pathname).toBe(`/${test.services.postgres.env.POSTGRES_DB}`);
  });

  it("installs Debian's chromium for the browser test (at the path the test looks for)", () => {
    expect(runs(test).some((c) => /apt-get install .*\bchromium\b/.test(c))).toBe(true);
    expect(test.env.CHROMIUM_PATH).toBe('/usr/bin/chromium');
  });

  it('builds the image and pushes it to GHCR tagged with the commit, only from main after the tests pass', () => {
    expect(image.needs).toBe('test');
    expect(image.if).toBe("github.event_name == 'push' && github.ref == 'refs/heads/main'");
    expect(image.permissions).toEqual({ contents: 'read', packages: 'write' });
    const login = image.steps.find((s: Obj) => String(s.uses).startsWith('docker/login-action@'));
    expect(login.with.registry).toBe('ghcr.io');
    const build = image.steps.find((s: Obj) => String(s.uses).startsWith('docker/build-push-action@'));
    expect(build.with.push).toBe(true);
    expect(build.with.tags).toMatch(/:\$\{\{ github\.sha \}\}$/);
    // The only job that writes packages is that one.
    for (const [name, job] of Object.entries(workflow.jobs) as Array<[string, Obj]>) if (name !== 'image') expect(job.permissions?.packages).toBeUndefined();
  });
});
