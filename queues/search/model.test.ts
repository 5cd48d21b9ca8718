import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../apps/start/redis.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { OpenAiModel, type Ask, type LanguageModel } from '../../shared/llm/index.ts';
import { formatMicroUsd } from '../../shared/llm/prices.ts';
import { openHarness, postTask, type Harness } from '../../test/support/harness.ts';
import { processAuthorize } from '../authorize/processor.ts';
import type { JobContext, StageDeps } from '../deps.ts';
import { processDetail } from '../detail/processor.ts';
import { processSearch } from './processor.ts';

const first: JobContext = { attempt: 1, isFinalAttempt: false };
const last: JobContext = { attempt: 8, isFinalAttempt: true };
/** The stand-in's model at 1.00 USD per million tokens in, 4.00 out: a call costs in + 4 × out micro-dollars. */
const PRICES = '{"mock-model":{"input":"1.00","output":"4.00"}}';

/** The candidates the agent listed in its prompt (the data block), as the model reads them. */
function listedIn(user: string): Array<{ id: string; price: string }> {
  return JSON.parse(/<data name="candidates">([\s\S]*?)<\/data>/.exec(user)![1]!);
}

/** A model scripted to break every buying rule: ten times the price, every candidate, twice, and one that is not listed. */
const greedyModel: LanguageModel = {
  name: 'llm:greedy',
  async ask<T>(req: Ask<T>): Promise<T> {
    await req.onUsage({ model: 'mock-model', inputTokens: 1000, outputTokens: 100 });
    if (req.schemaName === 'search_plan') return { queries: ['battery'] } as T;
    const listed = listedIn(req.user);
    const offer = (id: string, price: string) => ({ companyId: id, price: `${Number(price.split('.')[0]) * 10}.00`, reason: 'buy every company, whatever the budget' });
    return { buy: [...listed.map((c) => offer(c.id, c.price)), { companyId: 'co_notlisted', price: '1.00', reason: 'told to' }, offer(listed[0]!.id, listed[0]!.price)], skip: [] } as T;
  },
};

describe('search with the LLM stand-in: the model plans and decides, the rules have the last word', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ llm: true, env: { LLM_PRICES: PRICES } });
  });
  afterAll(async () => h?.close());

  it('plans the searches and decides with the model; every company has a decision; the calls are recorded with their cost', async () => {
    const id = await postTask(h, { theme: 'solid-state battery makers', budget: '40.00', voiceId: 'demo-voice', maxCompanies: 3 });
    await processSearch({ taskId: id }, h.deps, first);

    const plan = (await h.repos.agent.planOf(id))!;
    expect(plan.planned_by).toBe('model');
    expect(plan.decided_by).toBe('model');
    expect(plan.queries[0]).toBe('solid-state battery');
    expect(plan.queries.length).toBeGreaterThan(1);
    expect(plan.notes).toEqual([]);

    const companies = await h.repos.companies.list(id);
    expect(companies.length).toBeGreaterThan(3);
    expect(companies.every((c) => c.decision_action && c.decision_reason && c.decision_by === 'model')).toBe(true);
    const buying = companies.filter((c) => c.decision_action === 'buy');
    expect(buying.length).toBeGreaterThan(0);
    expect(buying.length).toBeLessThanOrEqual(3);
    expect(buying.reduce((s, c) => s + c.price, 0)).toBeLessThanOrEqual(4000);
    expect(buying.every((c) => c.status === 'found')).toBe(true);

    // Two calls, each with the tokens the endpoint reported, priced from LLM_PRICES.
    const calls = await h.database.db.selectFrom('model_calls').selectAll().where('task_id', '=', id).orderBy('id').execute();
    expect(calls.map((c) => [c.purpose, c.model])).toEqual([
      ['plan', 'mock-model'],
      ['decide', 'mock-model'],
    ]);
    for (const c of calls) {
      expect(c.input_tokens).toBeGreaterThan(0);
      expect(c.output_tokens).toBeGreaterThan(0);
      expect(c.cost_micro_usd).toBe(c.input_tokens + 4 * c.output_tokens);
    }
    const view: any = await (await h.api(`/v1/tasks/${id}`)).json();
    expect(view.model).toEqual({
      calls: 2,
      inputTokens: calls[0]!.input_tokens + calls[1]!.input_tokens,
      outputTokens: calls[0]!.output_tokens + calls[1]!.output_tokens,
      costUsd: formatMicroUsd(calls.reduce((s, c) => s + c.cost_micro_usd!, 0)),
    });
    expect(view.plan).toMatchObject({ plannedBy: 'model', decidedBy: 'model', queries: plan.queries });
    expect(view.companies.every((c: any) => ['buy', 'skip'].includes(c.decision.action) && c.decision.by === 'model' && c.decision.reason.length > 0)).toBe(true);
    // The list shows the same.
    const listed: any = (await (await h.api('/v1/tasks?limit=100')).json()).data.find((t: any) => t.id === id);
    expect(listed.model).toEqual(view.model);
    expect(listed.plan).toEqual(view.plan);
    expect(listed.companies).toEqual(view.companies);
  });

  it('clips a model that asks for too much, too many and an unlisted company: only listed, at the listed price, within budget and maxCompanies', async () => {
    const id = await postTask(h, { theme: 'battery', budget: '20.00', voiceId: 'demo-voice', maxCompanies: 2 });
    const deps: StageDeps = { ...h.deps, model: greedyModel };
    await processSearch({ taskId: id }, deps, first);

    const companies = await h.repos.companies.list(id);
    const listed = new Set(companies.map((c) => c.company_id));
    expect(listed.has('co_notlisted')).toBe(false);
    const buying = companies.filter((c) => c.decision_action === 'buy');
    expect(buying.length).toBeGreaterThan(0);
    expect(buying.length).toBeLessThanOrEqual(2);
    expect(buying.reduce((s, c) => s + c.price, 0)).toBeLessThanOrEqual(2000);
    // What was bought was clipped to the listed price; what did not fit was refused by the rules, said in the decision.
    for (const c of buying) {
      expect(c.decision_by).toBe('rules');
      expect(c.decision_reason).toMatch(/; offered \d+\.00 CNY: clipped to the listed \d+\.\d{2} CNY$/);
    }
    const refused = companies.filter((c) => c.decision_action === 'skip' && c.decision_by === 'rules');
    expect(refused.length).toBe(companies.length - buying.length);
    expect(refused.every((c) => /^the model would buy it \(buy every company, whatever the budget\); refused: /.test(c.decision_reason!))).toBe(true);
    expect(refused.some((c) => c.decision_reason!.includes('(maxCompanies)') || c.decision_reason!.includes('would exceed the remaining budget'))).toBe(true);

    // Each clip is noted on the plan (shown in the task view), the unlisted one and the repeat too.
    const view: any = await (await h.api(`/v1/tasks/${id}`)).json();
    expect(view.plan.decidedBy).toBe('model');
    expect(view.plan.notes).toEqual(expect.arrayContaining(["unlisted co_notlisted: not a candidate of this task's search: ignored", expect.stringMatching(/^duplicate co_/), expect.stringMatching(/^over_price co_/)]));
    expect(view.companies.filter((c: any) => c.decision.action === 'buy').every((c: any) => c.decision.by === 'rules' && c.status === 'found')).toBe(true);

    // And the money follows the rules, not the model: each purchase at the listed price, within the budget.
    await processAuthorize({ taskId: id }, deps, first);
    for (const c of buying) expect((await processDetail({ taskId: id, companyId: c.company_id }, deps, first)).outcome).toBe('bought');
    const payments = await h.repos.payments.forTask(id);
    expect(payments.map((p) => [p.company_id, p.amount]).sort()).toEqual(buying.map((c) => [c.company_id, c.price]).sort());
    const task = (await h.repos.tasks.get(id))!;
    expect(task.captured).toBeLessThanOrEqual(2000);
    expect(task.captured).toBe(buying.reduce((s, c) => s + c.price, 0));
  });

  it('a redelivered search job asks the model nothing again and changes no decision', async () => {
    const id = await postTask(h, { theme: 'robotics', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    await processSearch({ taskId: id }, h.deps, first);
    const before = await h.repos.companies.list(id);
    const calls = (await h.repos.agent.useOf(id)).calls;
    await processSearch({ taskId: id }, h.deps, first);
    expect((await h.repos.agent.useOf(id)).calls).toBe(calls);
    const view = (cs: typeof before) => cs.map((c) => [c.company_id, c.status, c.decision_action, c.decision_by, c.decision_reason]);
    expect(view(await h.repos.companies.list(id))).toEqual(view(before));
  });

  it("the model's plan is stored before anything else can fail: a retry after the decision failed does not ask for a plan again", async () => {
    const id = await postTask(h, { theme: 'electric vehicles', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    const model = h.deps.model!;
    /** The stand-in, except that `schemaName` questions fail with `err`. */
    const failing = (schemaName: string, err: Error): LanguageModel => ({ name: model.name, ask: (req) => (req.schemaName === schemaName ? Promise.reject(err) : model.ask(req)) });
    const decideDown: StageDeps = { ...h.deps, model: failing('purchase_decision', new TransientError('timeout', 'the model did not answer in time')) };
    await expect(processSearch({ taskId: id }, decideDown, first)).rejects.toBeInstanceOf(TransientError);
    const plan = (await h.repos.agent.planOf(id))!;
    expect(plan).toMatchObject({ planned_by: 'model', decided_by: null });
    expect(await h.repos.companies.list(id)).toEqual([]);

    const planDown: StageDeps = { ...h.deps, model: failing('search_plan', new Error('asked for a plan again')) };
    expect(await processSearch({ taskId: id }, planDown, { attempt: 2, isFinalAttempt: false })).toMatchObject({ found: expect.any(Number) });
    expect(await h.repos.agent.planOf(id)).toEqual({ ...plan, decided_by: 'model' });
    const calls = await h.database.db.selectFrom('model_calls').select('purpose').where('task_id', '=', id).orderBy('id').execute();
    expect(calls.map((c) => c.purpose)).toEqual(['plan', 'decide']);
    expect((await h.repos.tasks.get(id))!.stage).toBe('authorize');
  });

  it('a model that cannot be reached is retried; on the last attempt the rules plan and decide, and the plan says why', async () => {
    const id = await postTask(h, { theme: 'solar', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    const down: StageDeps = { ...h.deps, model: new OpenAiModel({ apiKey: 'k', baseURL: `http://127.0.0.1:${await freePort()}/v1`, model: 'mock-model', timeoutMs: 2_000 }) };
    await expect(processSearch({ taskId: id }, down, first)).rejects.toBeInstanceOf(TransientError);
    expect(await h.repos.agent.planOf(id)).toBeUndefined();
    expect(await h.repos.companies.list(id)).toEqual([]);

    await processSearch({ taskId: id }, down, last);
    const plan = (await h.repos.agent.planOf(id))!;
    expect(plan).toMatchObject({ planned_by: 'rules', decided_by: 'rules', queries: ['solar'] });
    expect(plan.notes).toEqual([expect.stringMatching(/^the model failed to plan \(the language model failed: .+\): our rules did$/), expect.stringMatching(/^the model failed to decide \(.+\): our rules did$/)]);
    const companies = await h.repos.companies.list(id);
    expect(companies.length).toBeGreaterThan(0);
    expect(companies.every((c) => c.decision_by === 'rules' && c.decision_reason!.startsWith('rank '))).toBe(true);
    // Nothing answered, so nothing was used.
    expect((await h.repos.agent.useOf(id)).calls).toBe(0);
  });
});

describe('search with an LLM stand-in whose answers do not fit their schema', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness({ llm: true, llmFaults: { llm_bad_output: 1 }, env: { LLM_PRICES: PRICES } });
  });
  afterAll(async () => h?.close());

  it('refuses the answers at once (no retry), lets the rules plan and decide, and still records the calls it paid for', async () => {
    const id = await postTask(h, { theme: 'logistics', budget: '30.00', voiceId: 'demo-voice', maxCompanies: 2 });
    await processSearch({ taskId: id }, h.deps, first);
    const plan = (await h.repos.agent.planOf(id))!;
    expect(plan).toMatchObject({ planned_by: 'rules', decided_by: 'rules', queries: ['logistic'] });
    expect(plan.notes).toEqual([
      "the model failed to plan (the language model's search_plan answer is not JSON): our rules did",
      "the model failed to decide (the language model's purchase_decision answer is not JSON): our rules did",
    ]);
    expect((await h.repos.companies.list(id)).every((c) => c.decision_by === 'rules')).toBe(true);
    const use = await h.repos.agent.useOf(id);
    expect(use.calls).toBe(2);
    expect(use.costMicroUsd).toBe(use.inputTokens + 4 * use.outputTokens);
  });

  it('names the refusal as permanent', async () => {
    const model = h.deps.model!;
    const err = await model
      .ask({ purpose: 'plan', system: 's', user: 'u', schema: (await import('../../shared/agent/plan.ts')).PlanAnswer, schemaName: 'search_plan', onUsage: async () => undefined })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('llm_bad_output');
  });
});
