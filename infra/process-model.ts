/**
 * The process model every deployment description follows (issue 17): which programs run, with which
 * arguments, and what each needs in production — derived from the code that checks it at start, so the
 * Kubernetes manifests (infra/k8s), docker-compose.yaml and their tests agree with one source of truth.
 */
import { requireSharedServices } from '../apps/runtime/infra.ts';
import { providerLocations } from '../apps/runtime/stage-deps.ts';
import { QUEUE_NAMES, type QueueName } from '../queues/names.ts';
import { configSchema, loadConfig } from '../shared/config.ts';
import { FILE_BACKED_VARIABLES } from '../shared/secret-files.ts';
import { PROGRAM_SECRETS } from '../shared/secrets.ts';
import { compiledPath } from './programs.ts';

/** The two programs a deployment runs: the gateway, and the worker (one process per stage). */
export type Program = 'gateway' | 'worker';

/** Every stage, one worker deployment (or compose service) each. */
export const STAGES: readonly QueueName[] = QUEUE_NAMES;

/** The script each program runs as, compiled from its source (`npm run build`), relative to the image's working directory. */
export const PROGRAM_SCRIPT: Record<Program, string> = { gateway: compiledPath('apps/gateway/main.ts'), worker: compiledPath('apps/worker/main.ts') };

/**
 * How a deployment starts a program: plain `node` on the compiled script (no TypeScript loader), one
 * process with no npm or npx wrapper, so SIGTERM reaches the program itself. Stack traces name the
 * compiled file; `NODE_OPTIONS=--enable-source-maps` maps them back to the sources (the source map is
 * beside each program), for ~5–10 MiB more per process (BENCHMARKS.md, "Start-up").
 */
export function programCommand(program: Program, args: readonly string[] = []): string[] {
  return ['node', PROGRAM_SCRIPT[program], ...args];
}

/** Every configuration variable the product reads (the keys of the one schema). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(configSchema.shape);

/** The variables a refusal message names (whole words only: `API_KEYS` is not found in `TOKEN_ISSUER_API_KEY`). */
function namedVariables(message: string): string[] {
  // An alternative a refusal offers ("REDIS_URL (or REDIS_CLUSTER_NODES)") is another way, not a requirement.
  const required = message.replace(/\(or [^)]*\)/g, '');
  return CONFIG_VARIABLES.filter((name) => new RegExp(`(^|[^A-Z0-9_])${name}([^A-Z0-9_]|$)`).test(required));
}

/**
 * The start-up checks of a program, as its main() runs them: the validated configuration with the
 * secrets it uses (refused in production when unset, default or short), the shared Redis and Postgres,
 * and (workers) the providers' locations. Throws the first refusal.
 */
export function startChecks(program: Program, env: NodeJS.ProcessEnv): void {
  const config = loadConfig(env, { uses: PROGRAM_SECRETS[program] });
  requireSharedServices(config, program);
  if (program === 'worker') providerLocations(config);
}

/**
 * The variables a program needs in production, found by asking its start-up checks what they refuse
 * on an empty production environment — also with webhooks switched on, whose secret is needed then
 * (a deployment gives it, so switching webhooks on is a ConfigMap change, not a new secret).
 */
export function productionRequirements(program: Program): string[] {
  const refusals: string[] = [];
  const attempt = (check: () => unknown) => {
    try {
      check();
    } catch (err) {
      refusals.push((err as Error).message);
    }
  };
  const uses = PROGRAM_SECRETS[program];
  attempt(() => loadConfig({ NODE_ENV: 'production' }, { uses }));
  attempt(() => loadConfig({ NODE_ENV: 'production', WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' }, { uses }));
  const defaults = configSchema.parse({});
  attempt(() => requireSharedServices(defaults, program));
  if (program === 'worker') attempt(() => providerLocations(defaults));
  return [...new Set(refusals.flatMap(namedVariables))].sort();
}

/** Of a program's required variables, those that are secrets (given as files, `<NAME>_FILE`). */
export function secretRequirements(program: Program): string[] {
  return productionRequirements(program).filter((v) => (FILE_BACKED_VARIABLES as readonly string[]).includes(v));
}

/** True when `env` gives the variable, itself or as `<NAME>_FILE`, with a non-blank value. */
export function gives(env: NodeJS.ProcessEnv, variable: string): boolean {
  return [env[variable], env[`${variable}_FILE`]].some((v) => v !== undefined && v.trim() !== '');
}
