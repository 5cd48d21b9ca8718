import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLI = new URL('../../node_modules/@redocly/cli/bin/cli.js', import.meta.url).pathname;

/** One finding of the linter. */
export interface LintProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  /** JSON pointer into the document, e.g. `#/paths/~1healthz/get/responses`. */
  pointer: string;
}

/**
 * Lints an OpenAPI document with Redocly CLI (`redocly lint`, its built-in `recommended` rules), in a
 * process of its own, without telemetry or update checks. `source` is a file, or a document to lint
 * from a temporary file.
 */
export async function redoclyLint(source: string | object): Promise<LintProblem[]> {
  const dir = typeof source === 'string' ? undefined : mkdtempSync(join(tmpdir(), 'arp-lint-'));
  const file = dir ? join(dir, 'openapi.json') : (source as string);
  if (dir) writeFileSync(file, JSON.stringify(source, null, 2));
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [CLI, 'lint', file, '--format=json'],
        { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
        // Exit code 1 means the document has errors: the report is still on stdout.
        (err, out, errText) => (out.trim().startsWith('{') ? resolve(out) : reject(new Error(`redocly lint failed: ${err?.message ?? ''}\n${errText}`))),
      );
    });
    const report = JSON.parse(stdout) as { problems: Array<{ ruleId: string; severity: 'error' | 'warn'; message: string; location: Array<{ pointer: string }> }> };
    return report.problems.map((p) => ({ ruleId: p.ruleId, severity: p.severity, message: p.message, pointer: p.location[0]?.pointer ?? '' }));
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
