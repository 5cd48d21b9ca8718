import type { Kysely } from 'kysely';
import type { Database, OperatorAuditEntry } from './schema.ts';

/** Who acts, and from where: the admin login's user and role, the client address and its user agent. */
export interface OperatorContext {
  actor: string;
  role: string;
  address: string | null;
  userAgent: string | null;
}

/** One operator action to record. */
export interface AuditRecord {
  action: string;
  tenant?: string | null;
  target?: string | null;
  details?: Record<string, unknown>;
  status?: number | null;
}

/**
 * Writes one audit row with `db` — pass the transaction that makes the change, so the change and its
 * record commit together or not at all. Returns the row's id.
 */
export async function recordAudit(db: Kysely<Database>, who: OperatorContext, what: AuditRecord): Promise<number> {
  const row = await db
    .insertInto('operator_audit')
    .values({
      actor: who.actor,
      role: who.role,
      address: who.address,
      user_agent: who.userAgent,
      action: what.action,
      tenant: what.tenant ?? null,
      target: what.target ?? null,
      details: JSON.stringify(what.details ?? {}),
      status: what.status ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** The operators' audit log (issue 8): every operator action with who, what, when and from where. */
export class OperatorAuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records an action on its own (one that is not a change of ours in Postgres, e.g. a Bull Board write). */
  async record(who: OperatorContext, what: AuditRecord): Promise<number> {
    return recordAudit(this.db, who, what);
  }

  /** Notes how a recorded action was answered. */
  async setStatus(id: number, status: number): Promise<void> {
    await this.db.updateTable('operator_audit').set({ status }).where('id', '=', id).execute();
  }

  /** Rows with `from ≤ at < to` in the order they were recorded, after the row `afterId` (keyset paging). */
  async list(opts: { from?: Date; to?: Date; afterId?: number; limit: number }): Promise<OperatorAuditEntry[]> {
    let q = this.db.selectFrom('operator_audit').selectAll();
    if (opts.from) q = q.where('at', '>=', opts.from);
    if (opts.to) q = q.where('at', '<', opts.to);
    if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
    return q.orderBy('id').limit(opts.limit).execute();
  }
}
