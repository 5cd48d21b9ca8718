import { readFileSync } from 'node:fs';

/**
 * The variables that hold a secret, or a URL that may carry a password. Each may instead be given as
 * `<NAME>_FILE`, a path to read it from: the convention of Docker and Kubernetes secrets and of Vault
 * Agent's injector, so nothing secret needs to be in the environment.
 */
export const FILE_BACKED_VARIABLES = [
  'API_KEYS',
  'ADMIN_PASSWORD',
  'ADMIN_OPERATOR_PASSWORD',
  'TOKEN_ISSUER_API_KEY',
  'RECEIPT_SECRET',
  'DATA_ENCRYPTION_KEYS',
  'OPENAI_API_KEY',
  'JWT_SECRET',
  'WEBHOOK_SECRET',
  'REDIS_URL',
  'DATABASE_URL',
] as const;

const isSet = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * The environment with every `<NAME>_FILE` read into `<NAME>` (one trailing line break dropped, as
 * files written by editors and `echo` end with one). Problems name the variable and the path, never
 * what the file holds: setting both forms, a file that cannot be read, an empty file.
 */
export function readSecretFiles(env: NodeJS.ProcessEnv, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): { env: NodeJS.ProcessEnv; problems: string[] } {
  const resolved: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const name of FILE_BACKED_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (!isSet(path)) continue;
    if (isSet(env[name])) {
      problems.push(`${name}_FILE: ${name} is set too; give one of the two`);
      continue;
    }
    let text: string;
    try {
      text = read(path).replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
      continue;
    }
    if (text.trim() === '') problems.push(`${name}_FILE: ${path} is empty`);
    else resolved[name] = text;
  }
  return { env: resolved, problems };
}
