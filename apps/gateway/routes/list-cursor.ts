import { isSealed, SealError, type Keyring } from '../../../shared/crypto/keyring.ts';
import { ApiError } from '../../../shared/errors.ts';

const INVALID = () => new ApiError('validation_failed', 'the cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API returned to this API key' }]);

/**
 * The list cursor: where the next page starts (the insertion sequence of the last task shown), sealed
 * with the data keyring (AES-256-GCM, shared/crypto/keyring.ts) for this tenant. Sealed rather than
 * signed, because a signature would still show the sequence — how many tasks every tenant together
 * has created — and the keyring is already there, rotates with DATA_ENCRYPTION_KEYS (a cursor sealed
 * before a rotation still opens while the old key is listed) and needs no secret of its own. The
 * tenant is bound in as associated data, so a cursor opens for the key's own tenant only; altered,
 * forged or another tenant's cursors are a 400 naming `cursor`.
 */
export class ListCursors {
  constructor(private readonly keyring: Keyring) {}

  private static context(tenant: string): string {
    return `task-list-cursor:${tenant}`;
  }

  seal(seq: number, tenant: string): string {
    return this.keyring.seal(`v2:${seq}`, ListCursors.context(tenant));
  }

  /** The sequence a cursor stands for; a 400 validation_failed for anything this tenant was not given. */
  open(cursor: string, tenant: string): number {
    // The keyring passes unsealed values through (data from before encryption); a cursor must be sealed.
    if (!isSealed(cursor)) throw INVALID();
    let text: string;
    try {
      text = this.keyring.open(cursor, ListCursors.context(tenant));
    } catch (err) {
      if (err instanceof SealError) throw INVALID();
      throw err;
    }
    const match = /^v2:(\d{1,15})$/.exec(text);
    if (!match) throw INVALID();
    return Number(match[1]);
  }
}
