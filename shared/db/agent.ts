import { sql, type Kysely } from 'kysely';
import type { AgentPlan, Database } from './schema.ts';

/** A task's language-model use, summed: integer micro-dollars; `unpriced` counts calls of a model with no price. */
export interface ModelUse {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costMicroUsd: number;
  unpriced: number;
}

/** One model call to record. */
export interface ModelCallRecord {
  purpose: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costMicroUsd: number | null;
}

/** Where a task's search stands (AgentRepository.searchSoFar). */
export interface SearchSoFar {
  plan: AgentPlan | undefined;
  /** The outcome is stored: the search is only to be handed on. */
  searched: boolean;
  found: number;
  chosen: number;
}

const NO_USE: ModelUse = { calls: 0, inputTokens: 0, outputTokens: 0, costMicroUsd: 0, unpriced: 0 };

/** The agent's search plans and its model calls, per task. */
export class AgentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a task's plan once; a redelivered search job keeps the first (so the model is not asked again). */
  async savePlan(taskId: string, plan: { queries: string[]; plannedBy: 'model' | 'rules'; notes: string[] }): Promise<AgentPlan> {
    const saved = await this.db
      .insertInto('agent_plans')
      .values({ task_id: taskId, queries: JSON.stringify(plan.queries), planned_by: plan.plannedBy, notes: JSON.stringify(plan.notes) })
      .onConflict((oc) => oc.column('task_id').doNothing())
      .returningAll()
      .executeTakeFirst();
    // Saved by a racing or earlier run: that plan stands.
    return saved ?? (await this.planOf(taskId))!;
  }

  /**
   * Where a task's search stands, in one read: its stored plan (a redelivered job does not plan again),
   * and whether its outcome was stored already — companies found (how many, how many chosen), or the
   * story's `candidates` told (a search that found nothing) — so that it is only handed on.
   */
  async searchSoFar(taskId: string): Promise<SearchSoFar> {
    const { rows } = await sql<Partial<AgentPlan> & { stored: number; chosen: number; told: boolean }>`
      select p.task_id, p.queries, p.planned_by, p.decided_by, p.notes, p.created_at,
        (select count(*)::int from companies where task_id = ${taskId}) as stored,
        (select count(*)::int from companies where task_id = ${taskId} and status <> 'skipped') as chosen,
        exists (select 1 from task_events where task_id = ${taskId} and kind = 'candidates') as told
      from (select 1) as one left join agent_plans p on p.task_id = ${taskId}`.execute(this.db);
    const { stored, chosen, told, ...plan } = rows[0]!;
    return { plan: plan.task_id ? (plan as AgentPlan) : undefined, searched: told || stored > 0, found: stored, chosen };
  }

  async planOf(taskId: string): Promise<AgentPlan | undefined> {
    return this.db.selectFrom('agent_plans').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  }

  /** The plans of several tasks at once (for listings). */
  async plansFor(taskIds: string[]): Promise<Map<string, AgentPlan>> {
    if (taskIds.length === 0) return new Map();
    const rows = await this.db.selectFrom('agent_plans').selectAll().where('task_id', 'in', taskIds).execute();
    return new Map(rows.map((r) => [r.task_id, r]));
  }

  /** Records one model call: every call that answered is recorded, including one whose answer we refused. */
  async recordCall(taskId: string, call: ModelCallRecord): Promise<void> {
    await this.db
      .insertInto('model_calls')
      .values({
        task_id: taskId,
        purpose: call.purpose,
        model: call.model,
        input_tokens: call.inputTokens,
        output_tokens: call.outputTokens,
        cost_micro_usd: call.costMicroUsd,
      })
      .execute();
  }

  async useOf(taskId: string): Promise<ModelUse> {
    return (await this.useFor([taskId])).get(taskId) ?? { ...NO_USE };
  }

  /** Model use summed per task (tasks with no call get zeros). */
  async useFor(taskIds: string[]): Promise<Map<string, ModelUse>> {
    const out = new Map<string, ModelUse>(taskIds.map((id) => [id, { ...NO_USE }]));
    if (taskIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('model_calls')
      .select([
        'task_id',
        sql<number>`count(*)::bigint`.as('calls'),
        sql<number>`coalesce(sum(input_tokens), 0)::bigint`.as('input_tokens'),
        sql<number>`coalesce(sum(output_tokens), 0)::bigint`.as('output_tokens'),
        sql<number>`coalesce(sum(cost_micro_usd), 0)::bigint`.as('cost'),
        sql<number>`count(*) filter (where cost_micro_usd is null)::bigint`.as('unpriced'),
      ])
      .where('task_id', 'in', taskIds)
      .groupBy('task_id')
      .execute();
    for (const r of rows) {
      out.set(r.task_id, {
        calls: Number(r.calls),
        inputTokens: Number(r.input_tokens),
        outputTokens: Number(r.output_tokens),
        costMicroUsd: Number(r.cost),
        unpriced: Number(r.unpriced),
      });
    }
    return out;
  }
}
