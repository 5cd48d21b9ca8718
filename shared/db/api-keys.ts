import { sql, type Kysely } from 'kysely';
import type { NewApiKey } from '../tenants/api-key.ts';
import { recordAudit, type OperatorContext } from './operator-audit.ts';
import type { ApiKey, Database } from './schema.ts';

/** The outcome of revoking a key: revoked now, revoked before (left as it was), or no such key of this tenant. */
export type RevokeResult = { kind: 'revoked'; key: ApiKey } | { kind: 'already_revoked'; key: ApiKey } | { kind: 'not_found' };

/** An active key as authentication needs it. */
export interface ActiveKey {
  id: string;
  tenant: string;
  lastUsedAt: Date | null;
}

/** How stale `last_used_at` may get: written at most once a minute per key, not on every request. */
const LAST_USED_RESOLUTION = '1 minute';

/**
 * Tenants' API keys (issue 8). Only the SHA-256 digest of a key is kept; every change is written in
 * one transaction with its row in the operators' audit log.
 */
export class ApiKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a new key of `tenant` (made by newApiKey) and records who made it. */
  async create(tenant: string, name: string, made: NewApiKey, who: OperatorContext): Promise<ApiKey> {
    return this.db.transaction().execute(async (trx) => {
      const key = await trx
        .insertInto('api_keys')
        .values({ id: made.id, tenant, name, key_digest: made.digest, hint: made.hint, created_by: who.actor })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordAudit(trx, who, { action: 'api_key.created', tenant, target: key.id, details: { name, hint: key.hint } });
      return key;
    });
  }

  /** A tenant's keys, revoked ones too, newest first. */
  async list(tenant: string): Promise<ApiKey[]> {
    return this.db.selectFrom('api_keys').selectAll().where('tenant', '=', tenant).orderBy('created_at', 'desc').orderBy('id').execute();
  }

  /**
   * Revokes a key of `tenant` (another tenant's key id is not found). Revoking twice changes nothing
   * the second time and records nothing.
   */
  async revoke(tenant: string, id: string, who: OperatorContext): Promise<RevokeResult> {
    return this.db.transaction().execute(async (trx): Promise<RevokeResult> => {
      const revoked = await trx
        .updateTable('api_keys')
        .set({ revoked_at: sql<Date>`now()`, revoked_by: who.actor })
        .where('id', '=', id)
        .where('tenant', '=', tenant)
        .where('revoked_at', 'is', null)
        .returningAll()
        .executeTakeFirst();
      if (revoked) {
        await recordAudit(trx, who, { action: 'api_key.revoked', tenant, target: id, details: { name: revoked.name, hint: revoked.hint } });
        return { kind: 'revoked', key: revoked };
      }
      const existing = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).where('tenant', '=', tenant).executeTakeFirst();
      return existing ? { kind: 'already_revoked', key: existing } : { kind: 'not_found' };
    });
  }

  /** The active (not revoked) key with this digest, or undefined. */
  async findActive(digest: string): Promise<ActiveKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .select(['id', 'tenant', 'last_used_at'])
      .where('key_digest', '=', digest)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && { id: row.id, tenant: row.tenant, lastUsedAt: row.last_used_at };
  }

  /** Notes that a key was used, unless that was noted within the last minute. */
  async touch(id: string): Promise<void> {
    await this.db
      .updateTable('api_keys')
      .set({ last_used_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`now() - ${LAST_USED_RESOLUTION}::interval`)]))
      .execute();
  }
}
