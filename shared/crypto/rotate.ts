import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { receiptContext } from '../db/payments.ts';
import { tokenContext } from '../db/tasks.ts';
import { SealError, type Keyring } from './keyring.ts';

export interface RotationResult {
  /** Values sealed again under the first key (including plaintext from before encryption). */
  tokens: number;
  receipts: number;
  /** Rows whose value could not be opened with any listed key (ids only). */
  unreadable: string[];
}

const PAGE = 500;

/**
 * Seals every stored token id and receipt under the keyring's first key: values sealed with an older
 * key, and plaintext written before encryption existed. Each row is updated only if it still holds the
 * value that was read, so a concurrent write is never overwritten. Safe to run again at any time.
 */
export async function rotateKeys(db: Kysely<Database>, keyring: Keyring): Promise<RotationResult> {
  const result: RotationResult = { tokens: 0, receipts: 0, unreadable: [] };

  for (let after = '00000000-0000-0000-0000-000000000000'; ; ) {
    const rows = await db.selectFrom('tasks').select(['id', 'token_id']).where('token_id', 'is not', null).where('id', '>', after).orderBy('id').limit(PAGE).execute();
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    for (const row of rows) {
      const resealed = reseal(keyring, row.token_id!, tokenContext(row.id), `task ${row.id}`, result);
      if (resealed === undefined) continue;
      const done = await db.updateTable('tasks').set({ token_id: resealed }).where('id', '=', row.id).where('token_id', '=', row.token_id).executeTakeFirst();
      result.tokens += Number(done.numUpdatedRows);
    }
  }

  for (let after = 0; ; ) {
    const rows = await db.selectFrom('payments').select(['id', 'receipt']).where('receipt', 'is not', null).where('id', '>', after).orderBy('id').limit(PAGE).execute();
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    for (const row of rows) {
      const resealed = reseal(keyring, row.receipt!, receiptContext(row.id), `payment ${row.id}`, result);
      if (resealed === undefined) continue;
      const done = await db.updateTable('payments').set({ receipt: resealed }).where('id', '=', row.id).where('receipt', '=', row.receipt).executeTakeFirst();
      result.receipts += Number(done.numUpdatedRows);
    }
  }
  return result;
}

function reseal(keyring: Keyring, value: string, context: string, row: string, result: RotationResult): string | undefined {
  if (!keyring.needsRotation(value)) return undefined;
  try {
    return keyring.seal(keyring.open(value, context), context);
  } catch (err) {
    if (!(err instanceof SealError)) throw err;
    result.unreadable.push(row);
    return undefined;
  }
}
