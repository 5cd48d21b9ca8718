import { sql, type Kysely } from 'kysely';

// Frozen. The tenant's long-term memory (issue 11): one row per delivered purchase — provider, resource,
// the price paid (net of refunds), receipt id, when it was bought, the record's fields — with a full-text
// vector for retrieval (name A, industry and tags B, city and summary C, risk notes D; English stemming).
// Purchase claims: which task of a tenant is buying a company right now, so a second task waits for that
// purchase instead of paying twice. A task's own freshness window (`maxAge`, seconds; null: the default).
// Records delivered before memory existed are remembered from the tasks' stored copies.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('memory_records')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('resource', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('industry', 'text', (c) => c.notNull())
    .addColumn('city', 'text', (c) => c.notNull())
    .addColumn('price_paid', 'bigint', (c) => c.notNull().check(sql`price_paid >= 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('receipt_id', 'text')
    .addColumn('payment_id', 'bigint', (c) => c.notNull().unique().references('payments.id').onDelete('restrict'))
    .addColumn('task_id', 'uuid', (c) => c.notNull().references('tasks.id').onDelete('restrict'))
    .addColumn('bought_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('fields', 'jsonb', (c) => c.notNull())
    .addColumn('search', sql`tsvector`, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('memory_records_newest').on('memory_records').columns(['tenant', 'company_id', 'bought_at desc', 'id desc']).execute();
  await db.schema.createIndex('memory_records_tenant_id').on('memory_records').columns(['tenant', 'id']).execute();
  await db.schema.createIndex('memory_records_bought_at').on('memory_records').column('bought_at').execute();
  await sql`create index memory_records_search on memory_records using gin (search)`.execute(db);

  await db.schema
    .createTable('purchase_claims')
    .addColumn('tenant', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('task_id', 'uuid', (c) => c.notNull())
    .addColumn('claimed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('purchase_claims_pk', ['tenant', 'company_id'])
    .execute();

  await db.schema
    .alterTable('tasks')
    .addColumn('max_age_seconds', 'integer', (c) => c.check(sql`max_age_seconds between 0 and 31536000`))
    .execute();
  // Retention finds the records' copies on tasks that ended long ago without reading every company.
  await sql`create index tasks_ended_at on tasks (ended_at) where ended_at is not null`.execute(db);
  await sql`create index companies_with_detail on companies (task_id) where detail is not null`.execute(db);

  await sql`
    insert into memory_records (tenant, company_id, provider, resource, name, industry, city, price_paid, currency,
                                receipt_id, payment_id, task_id, bought_at, fields, search)
    select p.tenant, p.company_id, 'marketplace', p.resource, c.name, c.industry, c.city, p.amount - p.refunded_amount, 'CNY',
           p.receipt_id, p.id, p.task_id, p.updated_at, c.detail,
           setweight(to_tsvector('english', c.name), 'A')
           || setweight(to_tsvector('english', c.industry || ' ' || coalesce((select string_agg(t, ' ') from jsonb_array_elements_text(
                case when jsonb_typeof(c.basic->'tags') = 'array' then c.basic->'tags' else '[]'::jsonb end) t), '')), 'B')
           || setweight(to_tsvector('english', c.city || ' ' || coalesce(c.basic->>'summary', '')), 'C')
           || setweight(to_tsvector('english', coalesce((select string_agg(n, ' ') from jsonb_array_elements_text(
                case when jsonb_typeof(c.detail->'riskNotes') = 'array' then c.detail->'riskNotes' else '[]'::jsonb end) n), '')), 'D')
    from payments p
    join companies c on c.task_id = p.task_id and c.company_id = p.company_id
    where p.state = 'delivered' and p.amount > 0 and p.reused_payment_id is null and c.detail is not null and c.status = 'bought'
    on conflict (payment_id) do nothing`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('companies_with_detail').execute();
  await db.schema.dropIndex('tasks_ended_at').execute();
  await db.schema.alterTable('tasks').dropColumn('max_age_seconds').execute();
  await db.schema.dropTable('purchase_claims').execute();
  await db.schema.dropTable('memory_records').execute();
}
