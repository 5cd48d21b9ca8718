import type { AgentPlan, Company, ModelUse, Repositories, Task } from '../../shared/db/index.ts';
import { formatMicroUsd } from '../../shared/llm/prices.ts';
import { budgetView, CURRENCY, formatMoney } from '../../shared/money.ts';
import type { ModelUse as ModelUseView, TaskView } from './schemas/task.ts';

/** Where a reused record came from: the purchase's task and when it was bought. */
export type ReuseSources = ReadonlyMap<string, { taskId: string; boughtAt: Date }>;

/** What the agent did for a task: its search plan, its language-model use, and where what it reused came from. */
export interface AgentView {
  plan?: AgentPlan;
  model: ModelUse;
  reusedFrom?: ReuseSources;
}

/** A task's companies and what the agent did, read for its view. */
export async function viewParts(repos: Repositories, taskId: string): Promise<[Company[], AgentView]> {
  const [companies, plan, model, sources] = await Promise.all([repos.companies.list(taskId), repos.agent.planOf(taskId), repos.agent.useOf(taskId), repos.memory.reuseSources([taskId])]);
  return [companies, { plan, model, reusedFrom: sources.get(taskId) }];
}

/**
 * What memory did for a task: how many records it took from the tenant's memory instead of buying them,
 * and what that saved — their listed prices, what buying them would have cost.
 */
export function memoryView(companies: readonly Company[]) {
  const reused = companies.filter((c) => c.status === 'reused');
  return { reused: reused.length, saved: formatMoney(reused.reduce((sum, c) => sum + c.price, 0)), currency: CURRENCY };
}

/** A task's model use on the wire: tokens as integers, the cost in USD as a six-place decimal string. */
export function modelView(use: ModelUse): ModelUseView {
  return {
    calls: use.calls,
    inputTokens: use.inputTokens,
    outputTokens: use.outputTokens,
    costUsd: formatMicroUsd(use.costMicroUsd),
    // Calls of a model LLM_PRICES has no price for: their cost is not in costUsd.
    ...(use.unpriced ? { unpricedCalls: use.unpriced } : {}),
  };
}

/** A reused company's link to the purchase its record came from. */
function reuseOf(c: Company, sources: ReuseSources | undefined) {
  const source = c.status === 'reused' ? sources?.get(c.company_id) : undefined;
  return source ? { reusedFrom: { taskId: source.taskId, boughtAt: source.boughtAt.toISOString() } } : {};
}

/** The company's decision; rows stored before decisions were recorded have one from the migration. */
function decisionOf(c: Company) {
  return c.decision_action ? { decision: { action: c.decision_action, reason: c.decision_reason ?? '', by: c.decision_by ?? 'rules' } } : {};
}

/**
 * The API view of a task (DESIGN.md §5; its contract: schemas/task.ts `TaskView`); `agent` adds the
 * plan and the model use (the read routes pass it).
 */
export function taskView(task: Task, companies: Company[], agent?: AgentView): TaskView {
  return {
    id: task.id,
    theme: task.theme,
    status: task.status,
    stage: task.stage,
    maxCompanies: task.max_companies,
    budget: {
      ...budgetView({ limit: task.budget_limit, reserved: task.reserved, captured: task.captured, refunded: task.refunded }),
      released: formatMoney(task.released),
    },
    companies: companies.map((c) => ({
      id: c.company_id,
      name: c.name,
      industry: c.industry,
      price: formatMoney(c.price),
      status: c.status,
      ...decisionOf(c),
      ...(c.receipt_id ? { receiptId: c.receipt_id } : {}),
      ...reuseOf(c, agent?.reusedFrom),
      ...(c.error_code ? { reason: { code: c.error_code, message: c.error_message } } : {}),
    })),
    ...(agent?.plan
      ? { plan: { queries: agent.plan.queries, plannedBy: agent.plan.planned_by, decidedBy: agent.plan.decided_by, notes: agent.plan.notes } }
      : {}),
    ...(agent ? { model: modelView(agent.model) } : {}),
    ...(task.max_age_seconds !== null ? { maxAge: task.max_age_seconds } : {}),
    memory: memoryView(companies),
    ...(task.cancel_requested && task.status !== 'cancelled' ? { cancelRequested: true } : {}),
    ...(task.error_code ? { error: { code: task.error_code, message: task.error_message } } : {}),
    createdAt: task.created_at.toISOString(),
    updatedAt: task.updated_at.toISOString(),
    ...(task.ended_at ? { endedAt: task.ended_at.toISOString() } : {}),
  };
}
