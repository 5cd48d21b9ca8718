import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { PROGRAM_SCRIPT, productionRequirements, programCommand, STAGES, type Program } from '../../infra/process-model.ts';
import { compiledPath } from '../../infra/programs.ts';
import { configSchema } from '../../shared/config.ts';
import { refusal, STRONG_SECRETS } from './support.ts';

const FILE = new URL('../../docker-compose.yaml', import.meta.url).pathname;
const SECRETS = ['API_KEYS', 'ADMIN_PASSWORD', 'TOKEN_ISSUER_API_KEY', 'DATA_ENCRYPTION_KEYS'];
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
if (!hasCompose) process.stderr.write('[compose test] no docker-compose on the PATH (apt-get install docker-compose): its `config` checks are skipped\n');

/** Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (`$$` is a literal `$`), with `given` as the .env. */
function interpolate(text: string, given: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (name === undefined) return '$';
    const value = given[name];
    const unset = value === undefined || (op?.startsWith(':') && value === '');
    if (!unset) return value!;
    if (op?.endsWith('?')) throw new Error(`compose refuses: ${name}: ${arg}`);
    return op?.endsWith('-') ? arg! : '';
  });
}

/**
 * docker-compose.yaml is production-shaped (issue 7, item 1): the secrets have no defaults (`${VAR:?}`
 * makes compose refuse to start without them), the product runs with NODE_ENV=production, and the
 * gateway is published on 127.0.0.1 unless the operator says otherwise. Checked on the file's text,
 * and with Debian's docker-compose (`config`, no engine needed) where it is installed.
 */
describe('docker-compose.yaml', () => {
  const text = readFileSync(FILE, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'arp-compose-'));
  copyFileSync(FILE, join(dir, 'docker-compose.yaml'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** `docker-compose config` with exactly this environment (and a PATH), in a folder with no .env file. */
  const config = (env: Record<string, string>, ...args: string[]) =>
    spawnSync('docker-compose', ['config', ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });
  const strong = { API_KEYS: 'acme:ak_9f2c4e7a1b3d5f60', ADMIN_PASSWORD: 'correct horse battery staple', TOKEN_ISSUER_API_KEY: 'iss_live_5b8e0c2d7f4a9163', DATA_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' };

  it('gives no secret a default: each is required with ${VAR:?…}', () => {
    for (const name of SECRETS) {
      const uses = [...text.matchAll(new RegExp(`\\$\\{${name}(:?[-?=+])?`, 'g'))].map((m) => m[1] ?? '');
      expect(uses.length, name).toBeGreaterThan(0);
      expect(uses.every((op) => op === ':?'), `${name} is always \${${name}:?…}`).toBe(true);
    }
    expect(text).not.toMatch(/change-me(?!-receipt-secret)/);
  });

  it('runs the product with NODE_ENV=production', () => {
    expect(text).toMatch(/^\s+NODE_ENV: production$/m);
  });

  it('publishes every port on 127.0.0.1 unless GATEWAY_BIND says otherwise', () => {
    const ports = [...text.matchAll(/ports:\s*\[([^\]]*)\]/g)].flatMap((m) => m[1]!.split(',').map((p) => p.trim().replace(/^"|"$/g, '')));
    expect(ports.length).toBeGreaterThan(0);
    for (const port of ports) expect(port).toMatch(/^\$\{GATEWAY_BIND:-127\.0\.0\.1\}:/);
    expect(text).not.toMatch(/^\s+ports:\s*$/m); // no block-style list this check would miss
  });

  /** The services as compose resolves them (anchors and `<<` merges), strings interpolated with `given`. */
  const services = (given: Record<string, string>) => {
    const doc = parse(text, { merge: true }) as { services: Record<string, { command?: string[]; environment?: Record<string, string>; healthcheck?: { test: string[] }; stop_grace_period?: string }> };
    return Object.fromEntries(
      Object.entries(doc.services).map(([name, svc]) => [name, { ...svc, environment: Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), given)])) }]),
    );
  };
  /** What a service runs: the product's program (by its script) and its arguments; undefined for others (mocks, Redis, Postgres). */
  const programOf = (command: string[] | undefined): { program: Program; args: string[] } | undefined => {
    const i = (command ?? []).findIndex((part) => Object.values(PROGRAM_SCRIPT).includes(part));
    if (i < 0) return undefined;
    return { program: (Object.keys(PROGRAM_SCRIPT) as Program[]).find((p) => PROGRAM_SCRIPT[p] === command![i])!, args: command!.slice(i + 1) };
  };

  it('runs the process model: the gateway once, and one service per stage of queues/names.ts', () => {
    const runs = Object.values(services(STRONG_SECRETS)).map((s) => programOf(s.command)).filter(Boolean);
    expect(runs.filter((r) => r!.program === 'gateway')).toEqual([{ program: 'gateway', args: [] }]);
    expect(runs.filter((r) => r!.program === 'worker').map((r) => r!.args).sort()).toEqual(STAGES.map((s) => [s]).sort());
  });

  it('runs every service of ours compiled (dist/), with plain node as the deployments do: no tsx, no npx', () => {
    for (const [name, svc] of Object.entries(services(STRONG_SECRETS))) {
      const run = programOf(svc.command);
      if (run) expect(svc.command, name).toEqual(programCommand(run.program, run.args));
    }
    expect(services(STRONG_SECRETS).mocks!.command).toEqual(['node', compiledPath('mocks/main.ts')]);
    expect(text).not.toMatch(/\btsx\b|\bnpx\b|\.ts\b/);
  });

  it("gives each program every variable its start-up checks require in production, and with the operator's secrets it starts", () => {
    for (const [name, svc] of Object.entries(services(STRONG_SECRETS))) {
      const run = programOf(svc.command);
      if (!run) continue;
      for (const variable of productionRequirements(run.program)) expect(Object.keys(svc.environment), `${name}: ${variable}`).toContain(variable);
      for (const variable of Object.keys(svc.environment)) expect(configSchema.shape, `${name}: ${variable} is a variable the product reads`).toHaveProperty(variable);
      expect(refusal(run.program, svc.environment, '/nonexistent'), name).toBeUndefined();
      // Webhooks switched on in the .env: the workers need their secret, and get it.
      const on = services({ ...STRONG_SECRETS, WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' })[name]!;
      expect(refusal(run.program, on.environment, '/nonexistent'), `${name} with webhooks on`).toBeUndefined();
    }
  });

  it('gives every stage its worker HTTP port, health-checked on /readyz, and each process time to stop', () => {
    const all = services(STRONG_SECRETS);
    for (const [name, svc] of Object.entries(all)) {
      const run = programOf(svc.command);
      if (run?.program !== 'worker') continue;
      const port = svc.environment.WORKER_HTTP_PORT;
      expect(port, name).toMatch(/^\d+$/);
      expect(svc.environment.WORKER_HTTP_HOST, name).toBe('0.0.0.0');
      expect(svc.healthcheck?.test.join(' '), name).toContain(`http://127.0.0.1:${port}/readyz`);
    }
    for (const [name, svc] of Object.entries(all)) {
      if (!programOf(svc.command)) continue;
      const shutdownMs = Number(svc.environment.SHUTDOWN_TIMEOUT_MS || configSchema.shape.SHUTDOWN_TIMEOUT_MS.parse(undefined));
      // docker stops a container with SIGKILL 10 s after SIGTERM unless stop_grace_period says otherwise.
      const graceS = svc.stop_grace_period ? Number(/^(\d+)s$/.exec(svc.stop_grace_period)?.[1]) : 10;
      expect(graceS * 1000, name).toBeGreaterThan(shutdownMs + 1_000);
    }
  });

  it('runs Redis with an append-only file and noeviction (BullMQ must never lose a key to eviction)', () => {
    const redis = (parse(text, { merge: true }) as { services: { redis: { command: string[] } } }).services.redis.command.join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
  });

  it.skipIf(!hasCompose)('docker-compose refuses to configure without each secret, naming it', () => {
    for (const name of SECRETS) {
      const { [name]: _missing, ...rest } = strong as Record<string, string>;
      const result = config(rest, '-q');
      expect(result.status, name).not.toBe(0);
      expect(result.stderr, name).toContain(`set ${name}`);
    }
  });

  it.skipIf(!hasCompose)('with the secrets set it validates, and binds the gateway to 127.0.0.1 (or to GATEWAY_BIND)', () => {
    const ok = config(strong);
    expect(ok.status, ok.stderr).toBe(0);
    const published = [...ok.stdout.matchAll(/^\s+- (\S+:\d+:\d+(?:\/tcp)?)$/gm)].map((m) => m[1]);
    expect(published).toEqual(['127.0.0.1:8000:8000/tcp']);
    const open = config({ ...strong, GATEWAY_BIND: '0.0.0.0', GATEWAY_PORT: '9000' });
    expect(open.stdout).toContain('0.0.0.0:9000:8000/tcp');
  });

  it.skipIf(!hasCompose)('docker-compose config -q validates it, and lists a service for every stage', () => {
    const quiet = config(strong, '-q');
    expect(quiet.status, quiet.stderr).toBe(0);
    const listed = config(strong, '--services').stdout.split('\n').filter(Boolean);
    expect(listed).toEqual(expect.arrayContaining(['gateway', ...STAGES]));
  });
});
