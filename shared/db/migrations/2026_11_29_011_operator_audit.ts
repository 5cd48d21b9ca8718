import { sql, type Kysely } from 'kysely';

// Frozen. The operators' audit log (issue 8): every operator action — an API key created or revoked,
// a spending policy changed, a Bull Board write — with who, what, when and from where. And an index
// on the ledger's booking time, so a finance export of a period starts where the period starts.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('operator_audit')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // The admin login that acted (ADMIN_OPERATOR_USER) and its role.
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    // e.g. api_key.created, api_key.revoked, policy.updated, queue.write
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('tenant', 'text')
    // What was acted on: a key id, a queue path.
    .addColumn('target', 'text')
    .addColumn('details', 'jsonb', (c) => c.notNull())
    // The client address (the socket's, or what a trusted proxy says) and its user agent.
    .addColumn('address', 'text')
    .addColumn('user_agent', 'text')
    // The HTTP status the action was answered with, once known (Bull Board writes are recorded first).
    .addColumn('status', 'integer')
    .execute();
  await db.schema.createIndex('operator_audit_at').on('operator_audit').column('at').execute();
  await db.schema.createIndex('ledger_entries_created').on('ledger_entries').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('ledger_entries_created').ifExists().execute();
  await db.schema.dropTable('operator_audit').ifExists().execute();
}
