import { sql, type Kysely } from 'kysely';
import type { Database, WebhookAttempt, WebhookDelivery } from './schema.ts';

/** What one attempt at a delivery came to. */
export interface AttemptOutcome {
  /** The receiver's HTTP status; null when it was not reached (refused address, time-out, connection). */
  status: number | null;
  /** Why it did not count as delivered, in one line (never the URL's query or credentials). */
  error: string | null;
  durationMs: number;
  /** A 2xx: delivered, no more attempts. */
  delivered: boolean;
  /** Not to be tried again (the address is refused, the retry window is over). */
  final: boolean;
}

/**
 * Webhook deliveries (issue 13): one per task that carries a URL, written when the task ends (tasks.ts
 * `end`), sent by the webhook queue, every attempt recorded.
 */
export class WebhookRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(id: number): Promise<WebhookDelivery | undefined> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async forTask(taskId: string): Promise<WebhookDelivery[]> {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('task_id', '=', taskId).orderBy('id').execute();
  }

  /** Every attempt at these deliveries, oldest first, grouped by delivery. */
  async attempts(deliveryIds: number[]): Promise<Map<number, WebhookAttempt[]>> {
    const byDelivery = new Map<number, WebhookAttempt[]>(deliveryIds.map((id) => [id, []]));
    if (deliveryIds.length === 0) return byDelivery;
    const rows = await this.db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', deliveryIds).orderBy('id').execute();
    for (const row of rows) byDelivery.get(Number(row.delivery_id))?.push(row);
    return byDelivery;
  }

  /** Fixes the body of a delivery at its first attempt (a retry sends the same bytes); returns the body kept. */
  async fixBody(id: number, body: string): Promise<string> {
    const row = await this.db
      .updateTable('webhook_deliveries')
      .set({ body: sql<string>`coalesce(body, ${body})` })
      .where('id', '=', id)
      .returning('body')
      .executeTakeFirstOrThrow();
    return row.body!;
  }

  /**
   * Records an attempt and its outcome on the delivery, once it is still pending: delivered on a 2xx,
   * failed when `final`, pending otherwise. Returns the delivery as it now is.
   */
  async recordAttempt(id: number, outcome: AttemptOutcome): Promise<WebhookDelivery | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const delivery = await trx
        .updateTable('webhook_deliveries')
        .set({
          attempts: sql<number>`attempts + 1`,
          last_status: outcome.status,
          last_error: outcome.error,
          state: outcome.delivered ? 'delivered' : outcome.final ? 'failed' : 'pending',
          ...(outcome.delivered ? { delivered_at: sql<Date>`now()` } : {}),
          updated_at: sql<Date>`now()`,
        })
        .where('id', '=', id)
        .where('state', '=', 'pending')
        .returningAll()
        .executeTakeFirst();
      if (delivery) {
        await trx
          .insertInto('webhook_attempts')
          .values({ delivery_id: id, attempt: delivery.attempts, status: outcome.status, error: outcome.error, duration_ms: Math.round(outcome.durationMs) })
          .execute();
      }
      return delivery;
    });
  }

  /** Gives up on a pending delivery (its job failed for good) with the reason. */
  async fail(id: number, reason: string): Promise<void> {
    await this.db.updateTable('webhook_deliveries').set({ state: 'failed', last_error: reason, updated_at: sql<Date>`now()` }).where('id', '=', id).where('state', '=', 'pending').execute();
  }

  /** Pending deliveries not touched for `olderThanMs` (their job may have been lost): the sweeper queues them again. */
  async stalePending(olderThanMs: number, limit = 100): Promise<WebhookDelivery[]> {
    return this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('state', '=', 'pending')
      .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }
}
