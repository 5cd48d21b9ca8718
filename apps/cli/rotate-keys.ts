import { loadConfig } from '../../shared/config.ts';
import { maskUrlCredentials } from '../../shared/redact.ts';
import { PROGRAM_SECRETS } from '../../shared/secrets.ts';
import { keyringFrom } from '../../shared/crypto/keyring.ts';
import { rotateKeys } from '../../shared/crypto/rotate.ts';
import { isMigrated, openDatabase } from '../../shared/db/index.ts';
import { requireSharedServices } from '../runtime/infra.ts';

/**
 * `npm run rotate-keys`: seals every stored payment token id and receipt under the first key of
 * DATA_ENCRYPTION_KEYS (values under older keys, and plaintext from before encryption). Keep the old
 * key listed until this has run. Exit 0: every value is under the first key; 2: some value could not be
 * opened with any listed key (their rows are printed), or the database could not be reached.
 */
async function main(): Promise<number> {
  const config = loadConfig(process.env, { uses: PROGRAM_SECRETS.rotateKeys });
  requireSharedServices(config, 'rotate-keys', ['database']);
  const keyring = keyringFrom(config.DATA_ENCRYPTION_KEYS);
  if (keyring.isDevelopment) process.stderr.write('DATA_ENCRYPTION_KEYS is unset: sealing under the public development key\n');
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, schema: config.DATABASE_SCHEMA, dataDir: config.DATA_DIR, poolSize: 2 });
  try {
    if (!(await isMigrated(database))) throw new Error(`schema "${config.DATABASE_SCHEMA}" holds no up-to-date books (start the gateway or a worker once to migrate it)`);
    const result = await rotateKeys(database.db, keyring);
    process.stdout.write(`sealed again under key "${keyring.currentId}": ${result.tokens} token id(s), ${result.receipts} receipt(s)\n`);
    if (result.unreadable.length) {
      process.stdout.write(`${result.unreadable.length} value(s) open with no listed key: ${result.unreadable.join(', ')}\n`);
      return 2;
    }
    return 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`rotate-keys could not run: ${maskUrlCredentials((err as Error).message)}\n`);
    process.exit(2);
  },
);
