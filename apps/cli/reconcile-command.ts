import { parseArgs } from 'node:util';
import { loadConfig, providerTls } from '../../shared/config.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { PROGRAM_SECRETS } from '../../shared/secrets.ts';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { formatMoney } from '../../shared/money.ts';
import { IssuerClient } from '../../shared/providers/issuer.ts';
import { providerPools } from '../../shared/providers/tls.ts';
import { isMigrated, openDatabase, repositories } from '../../shared/db/index.ts';
import { requireSharedServices } from '../runtime/infra.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USAGE = 'usage: npm run reconcile [-- <taskId>] [--json]\n  exit 0: the books agree; 1: they differ; 2: could not check';

/** Where the command writes: the process's stdout and stderr, or a test's buffers. */
export interface CommandOutput {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}

/**
 * `npm run reconcile [-- <taskId>]`: compares our ledger with the token issuer's books, task by task,
 * to the fen. Prints every difference; returns the exit code: 0 when they agree, 1 when they differ, 2
 * when it could not check (bad arguments, Postgres or the issuer unreachable). `reconcile.ts` runs it as
 * a program; tests run it in-process with their own arguments, environment and output.
 */
export async function runReconcile(argv: string[], env: NodeJS.ProcessEnv, io: CommandOutput): Promise<number> {
  try {
    return await check(argv, env, io);
  } catch (err) {
    io.err.write(`reconcile could not check: ${maskUrlCredentials((err as Error).message)}\n`);
    return 2;
  }
}

async function check(argv: string[], env: NodeJS.ProcessEnv, io: CommandOutput): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    io.err.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    io.out.write(`${USAGE}\n`);
    return 0;
  }
  // Task ids are stored (and sent to the issuer as the token's reference) in lower case.
  const taskId = args.positionals[0]?.toLowerCase();
  if (args.positionals.length > 1 || (taskId !== undefined && !UUID.test(taskId))) {
    io.err.write(`expected at most one task id (a UUID)\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(env, { uses: PROGRAM_SECRETS.reconcile });
  requireSharedServices(config, 'reconcile', ['database']);
  if (!config.TOKEN_ISSUER_URL) throw new Error('reconcile reads the issuer\'s books, so it needs TOKEN_ISSUER_URL');
  // An audit's calls come one at a time.
  const pools = providerPools(providerTls(config), 2);
  // An audit only reads: it neither creates nor migrates anything.
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, dataDir: config.DATA_DIR, poolSize: 2 });
  const repos = repositories(database, keyringFrom(config.DATA_ENCRYPTION_KEYS));
  try {
    if (!(await isMigrated(database))) throw new Error(`schema "${config.DATABASE_SCHEMA}" holds no up-to-date books (start the gateway or a worker once to migrate it)`);
    const issuer = new IssuerClient(config.TOKEN_ISSUER_URL.replace(/\/+$/, ''), config.TOKEN_ISSUER_API_KEY, config.PROVIDER_TIMEOUT_MS, pools);
    const result = await reconcile(repos, issuer, taskId);
    if (args.values.json) {
      io.out.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const ours = result.checked.reduce((s, b) => s + b.ours, 0);
      const theirs = result.checked.reduce((s, b) => s + b.issuer, 0);
      io.out.write(`checked ${result.checked.length} task(s): ours ${formatMoney(ours)} CNY, issuer ${formatMoney(theirs)} CNY\n`);
      if (result.inFlight.length) io.out.write(`${result.inFlight.length} task(s) still running, compared once they end: ${result.inFlight.join(', ')}\n`);
      for (const d of result.differences) io.out.write(`DIFF ${d.taskId} ${d.kind}: ${d.detail}\n`);
      io.out.write(result.differences.length ? `${result.differences.length} difference(s)\n` : 'the books agree\n');
    }
    return result.differences.length ? 1 : 0;
  } finally {
    await pools.destroy();
    await database.close();
  }
}

