import { parseArgs } from 'node:util';
import { loadConfig, providerTls } from '../../shared/config.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { PROGRAM_SECRETS } from '../../shared/secrets.ts';
import { reconcile } from '../../shared/audit/reconcile.ts';
import { formatMoney } from '../../shared/money.ts';
import { IssuerClient } from '../../shared/providers/issuer.ts';
import { providerDispatcher } from '../../shared/providers/tls.ts';
import { isMigrated, openDatabase, repositories } from '../../shared/db/index.ts';
import { requireSharedServices } from '../runtime/infra.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const USAGE = 'usage: npm run reconcile [-- <taskId>] [--json]\n  exit 0: the books agree; 1: they differ; 2: could not check';

/**
 * `npm run reconcile [-- <taskId>]`: compares our ledger with the token issuer's books, task by task,
 * to the fen. Prints every difference; exits 0 when they agree, 1 when they differ, 2 when it could
 * not check (bad arguments, Postgres or the issuer unreachable).
 */
async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // Task ids are stored (and sent to the issuer as the token's reference) in lower case.
  const taskId = args.positionals[0]?.toLowerCase();
  if (args.positionals.length > 1 || (taskId !== undefined && !UUID.test(taskId))) {
    process.stderr.write(`expected at most one task id (a UUID)\n${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(process.env, { uses: PROGRAM_SECRETS.reconcile });
  requireSharedServices(config, 'reconcile', ['database']);
  if (!config.TOKEN_ISSUER_URL) throw new Error('reconcile reads the issuer\'s books, so it needs TOKEN_ISSUER_URL');
  // An audit only reads: it neither creates nor migrates anything.
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, dataDir: config.DATA_DIR, poolSize: 2 });
  const repos = repositories(database, keyringFrom(config.DATA_ENCRYPTION_KEYS));
  try {
    if (!(await isMigrated(database))) throw new Error(`schema "${config.DATABASE_SCHEMA}" holds no up-to-date books (start the gateway or a worker once to migrate it)`);
    const issuer = new IssuerClient(config.TOKEN_ISSUER_URL.replace(/\/+$/, ''), config.TOKEN_ISSUER_API_KEY, config.PROVIDER_TIMEOUT_MS, providerDispatcher(providerTls(config)));
    const result = await reconcile(repos, issuer, taskId);
    if (args.values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const ours = result.checked.reduce((s, b) => s + b.ours, 0);
      const theirs = result.checked.reduce((s, b) => s + b.issuer, 0);
      process.stdout.write(`checked ${result.checked.length} task(s): ours ${formatMoney(ours)} CNY, issuer ${formatMoney(theirs)} CNY\n`);
      if (result.inFlight.length) process.stdout.write(`${result.inFlight.length} task(s) still running, compared once they end: ${result.inFlight.join(', ')}\n`);
      for (const d of result.differences) process.stdout.write(`DIFF ${d.taskId} ${d.kind}: ${d.detail}\n`);
      process.stdout.write(result.differences.length ? `${result.differences.length} difference(s)\n` : 'the books agree\n');
    }
    return result.differences.length ? 1 : 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`reconcile could not check: ${maskUrlCredentials((err as Error).message)}\n`);
    process.exit(2);
  },
);
