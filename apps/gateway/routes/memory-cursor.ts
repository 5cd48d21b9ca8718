import { createHash } from 'node:crypto';
import { isSealed, SealError, type Keyring } from '../../../shared/crypto/keyring.ts';
import type { MemoryPosition } from '../../../shared/db/index.ts';
import { ApiError } from '../../../shared/errors.ts';

const INVALID = () => new ApiError('validation_failed', 'the cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API returned to this API key for this query' }]);

/**
 * The memory listing's cursor: the last record shown (and its rank, with a query), sealed with the data
 * keyring like the task list's (list-cursor.ts) — opaque, unforgeable — with the tenant and the query
 * bound in, so it opens for the key's own tenant and the same `q` only; anything else is a 400 naming
 * `cursor`.
 */
export class MemoryCursors {
  constructor(private readonly keyring: Keyring) {}

  private static context(tenant: string, q: string | undefined): string {
    return `memory-list-cursor:${tenant}:${q === undefined ? '-' : createHash('sha256').update(q).digest('hex')}`;
  }

  seal(at: MemoryPosition, tenant: string, q: string | undefined): string {
    return this.keyring.seal(`m1:${at.id}${at.rank === undefined ? '' : `:${at.rank}`}`, MemoryCursors.context(tenant, q));
  }

  /** Where the next page starts; a 400 validation_failed for anything this tenant was not given for this query. */
  open(cursor: string, tenant: string, q: string | undefined): MemoryPosition {
    if (!isSealed(cursor)) throw INVALID();
    let text: string;
    try {
      text = this.keyring.open(cursor, MemoryCursors.context(tenant, q));
    } catch (err) {
      if (err instanceof SealError) throw INVALID();
      throw err;
    }
    const match = /^m1:(\d{1,15})(?::(\d+(?:\.\d+)?(?:e-?\d+)?))?$/.exec(text);
    if (!match || (q !== undefined) !== (match[2] !== undefined)) throw INVALID();
    return { id: Number(match[1]), ...(match[2] !== undefined ? { rank: Number(match[2]) } : {}) };
  }
}
