import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseStages } from './stages.ts';
import { programArgs } from '../../test/support/programs.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

function run(program: string, args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, programArgs(program, args), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('npm run worker -- <stage…>', () => {
  it('takes stage names, comma or space separated; none or "all" means every stage', () => {
    expect(parseStages([])).toEqual(['search', 'authorize', 'detail', 'report', 'dashboard', 'webhook']);
    expect(parseStages(['all'])).toEqual(['search', 'authorize', 'detail', 'report', 'dashboard', 'webhook']);
    expect(parseStages(['detail'])).toEqual(['detail']);
    expect(parseStages(['search,authorize', 'report', 'search'])).toEqual(['search', 'authorize', 'report']);
  });

  it('refuses an unknown stage, naming it and the choices', () => {
    expect(() => parseStages(['detail', 'paymnet'])).toThrow(/unknown stage\(s\): paymnet; choose from search, authorize, detail, report, dashboard/);
  });

  it('refuses to start on embedded PGlite, saying why (it serves one process only)', () => {
    const r = run('apps/worker/main.ts', ['detail'], { REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/worker: .*needs DATABASE_URL.*PGlite serves one process only/);
  });

  it('stops with a message naming a bad configuration variable', () => {
    const r = run('apps/gateway/main.ts', [], { PORT: 'eighty', REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PORT');
  });
});
