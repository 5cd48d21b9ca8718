import { sql, type Kysely } from 'kysely';

// Frozen. A refund is asked of the issuer only after its intent (idempotency key and amount) is written on
// the payment, as a charge is asked only after its reservation: a crash between the issuer's refund and
// our booking of it leaves the intent behind, and the next attempt replays it under the same key (the
// issuer answers with the same refund) instead of deciding afresh and forgetting the money that moved.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('payments')
    .addColumn('pending_refund_key', 'text')
    .addColumn('pending_refund_amount', 'bigint')
    .execute();
  await sql`alter table payments add constraint payments_pending_refund_whole check (
    (pending_refund_key is null and pending_refund_amount is null)
    or (pending_refund_key is not null and pending_refund_amount > 0))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('payments').dropConstraint('payments_pending_refund_whole').execute();
  await db.schema.alterTable('payments').dropColumn('pending_refund_key').dropColumn('pending_refund_amount').execute();
}
