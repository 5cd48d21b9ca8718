import { z } from '@hono/zod-openapi';
import { Currency, Money, Timestamp } from './common.ts';

/** Where a task is in its life. */
export const TaskStatus = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']).openapi('TaskStatus');

/** The pipeline stage a task is in; `null` before the first and after the last. */
export const Stage = z.enum(['search', 'authorize', 'detail', 'report']).nullable().openapi('Stage');

/** What became of a company the agent found. */
export const CompanyStatus = z
  .enum(['found', 'skipped', 'bought', 'reused', 'failed', 'refunded'])
  .openapi('CompanyStatus', { description: '`found`: chosen, not yet bought; `reused`: a record this tenant bought earlier, younger than the freshness window (`maxAge` or MEMORY_MAX_AGE), used from memory at no cost.' });

const ModelOrRules = z.enum(['model', 'rules']);

/** A task's budget: every figure a decimal string; `spent` = captured − refunded, `remaining` = limit − spent − reserved. */
export const Budget = z
  .strictObject({ limit: Money, reserved: Money, spent: Money, refunded: Money, remaining: Money, currency: Currency, released: Money })
  .openapi('Budget');

/** A company the agent found for a task, with what it decided and what happened. */
export const TaskCompany = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    industry: z.string(),
    price: Money,
    status: CompanyStatus,
    decision: z
      .strictObject({ action: z.enum(['buy', 'skip']), reason: z.string(), by: ModelOrRules })
      .optional()
      .openapi({ description: 'What the agent decided and why, and whether the model or the rules decided.' }),
    receiptId: z.string().optional().openapi({ description: "The marketplace's receipt id of the purchase (never the receipt itself)." }),
    reusedFrom: z
      .strictObject({ taskId: z.uuid(), boughtAt: Timestamp })
      .optional()
      .openapi({ description: 'For a `reused` company: the task whose purchase it came from, and when that was bought.' }),
    reason: z
      .strictObject({ code: z.string(), message: z.string().nullable() })
      .optional()
      .openapi({ description: 'What went wrong with this company (`incomplete_record`, `over_budget`, …).' }),
  })
  .openapi('TaskCompany');

/** How the agent planned its searches. */
export const Plan = z
  .strictObject({ queries: z.array(z.string()), plannedBy: ModelOrRules, decidedBy: ModelOrRules.nullable(), notes: z.array(z.string()) })
  .openapi('Plan', { description: 'The searches run, who planned them and who decided what to buy; `notes` says what the rules clipped or when the model failed.' });

/** A task's language-model use; its cost is in USD and is not charged to the budget. */
export const ModelUse = z
  .strictObject({
    calls: z.number().int().min(0),
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    costUsd: z.string().regex(/^\d+\.\d{6}$/).openapi({ example: '0.001250' }),
    unpricedCalls: z.number().int().min(1).optional().openapi({ description: 'Calls of a model with no price in LLM_PRICES: their cost is not in costUsd.' }),
  })
  .openapi('ModelUse');
export type ModelUse = z.infer<typeof ModelUse>;

/** Why a task failed (shared/errors.ts codes such as `voice_not_verified`, `provider_unavailable`). */
export const TaskError = z.strictObject({ code: z.string(), message: z.string().nullable() }).openapi('TaskError');

/** A research task as the API shows it (view.ts `taskView`). */
export const TaskView = z
  .strictObject({
    id: z.uuid(),
    theme: z.string(),
    status: TaskStatus,
    stage: Stage,
    maxCompanies: z.number().int().min(1).max(20),
    budget: Budget,
    companies: z.array(TaskCompany),
    plan: Plan.optional(),
    model: ModelUse.optional().openapi({ description: 'On the read routes; not on the answers to a POST.' }),
    maxAge: z.number().int().min(0).optional().openapi({ description: 'The freshness window the task asked for, in seconds (0 = always buy).' }),
    memory: z
      .strictObject({ reused: z.number().int().min(0), saved: Money, currency: Currency })
      .openapi('MemoryUse', { description: 'How many records came from memory, and what buying them again would have cost.' }),
    cancelRequested: z.literal(true).optional().openapi({ description: 'A cancel was asked for and the task has not stopped yet.' }),
    error: TaskError.optional(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    endedAt: Timestamp.optional(),
  })
  .openapi('Task', {
    example: {
      id: '0f6c2a52-8a7e-4d0c-9d9e-0a6c7b1e2f33',
      theme: 'solid-state battery makers',
      status: 'completed',
      stage: null,
      maxCompanies: 5,
      budget: { limit: '50.00', reserved: '0.00', spent: '12.00', refunded: '0.00', remaining: '38.00', currency: 'CNY', released: '0.00' },
      companies: [
        { id: 'co_0042', name: 'Qingtao Energy', industry: 'Batteries', price: '12.00', status: 'bought', decision: { action: 'buy', reason: 'solid-state cells, best match', by: 'rules' }, receiptId: 'rcpt_1f2e3d4c5b6a79880a1b2c3d' },
      ],
      plan: { queries: ['solid-state battery'], plannedBy: 'rules', decidedBy: 'rules', notes: [] },
      model: { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: '0.000000' },
      memory: { reused: 0, saved: '0.00', currency: 'CNY' },
      createdAt: '2026-11-29T08:00:00.000Z',
      updatedAt: '2026-11-29T08:00:09.000Z',
      endedAt: '2026-11-29T08:00:09.000Z',
    },
  });
export type TaskView = z.infer<typeof TaskView>;

/** A page of tasks, newest first. */
export const TaskList = z
  .strictObject({
    data: z.array(TaskView),
    nextCursor: z.string().optional().openapi({ description: 'Pass as `cursor` for the next page; absent on the last page. Opaque, and valid for this tenant only.' }),
  })
  .openapi('TaskList');
export type TaskList = z.infer<typeof TaskList>;
