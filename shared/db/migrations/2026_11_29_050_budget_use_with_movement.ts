import { sql, type Kysely } from 'kysely';

// Frozen. Budget use is counted in the transaction of the money movement itself: a trigger on each new
// ledger row adds it to the task's and the tenant-day's aggregates (budget_usage, budget_usage_daily) and
// marks it counted (dashboard_applied), so no job per ledger row is needed and the aggregates can never
// lag the books or count a row twice (the mark's primary key). Rows written before this migration are
// still counted by the dashboard queue (the sweeper sends any row without a mark).
// `set search_path from current`: the function resolves the tables of the schema it was created in.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function count_ledger_entry() returns trigger language plpgsql
    set search_path from current as $$
    declare
      who text;
      r bigint := case when new.kind = 'reserve' then new.amount else 0 end;
      c bigint := case when new.kind = 'capture' then new.amount else 0 end;
      l bigint := case when new.kind = 'release' then new.amount else 0 end;
      f bigint := case when new.kind = 'refund' then new.amount else 0 end;
    begin
      select tenant into strict who from tasks where id = new.task_id;
      insert into dashboard_applied (ledger_entry_id) values (new.id);
      insert into budget_usage as u (task_id, tenant, reserved, captured, released, refunded, events)
      values (new.task_id, who, r, c, l, f, 1)
      on conflict (task_id) do update set
        reserved = u.reserved + r, captured = u.captured + c, released = u.released + l, refunded = u.refunded + f,
        events = u.events + 1, updated_at = now();
      insert into budget_usage_daily as d (tenant, day, reserved, captured, released, refunded, events)
      values (who, (new.created_at at time zone 'UTC')::date, r, c, l, f, 1)
      on conflict (tenant, day) do update set
        reserved = d.reserved + r, captured = d.captured + c, released = d.released + l, refunded = d.refunded + f,
        events = d.events + 1;
      return null;
    end $$`.execute(db);
  await sql`create trigger ledger_entries_count after insert on ledger_entries for each row execute function count_ledger_entry()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists ledger_entries_count on ledger_entries`.execute(db);
  await sql`drop function if exists count_ledger_entry()`.execute(db);
}
