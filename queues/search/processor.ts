import { decideWithModel } from '../../shared/agent/decide.ts';
import { planOffline, planWithModel, type Plan } from '../../shared/agent/plan.ts';
import { candidatesOf, costNow, keywordsOf, keywordWeights, matchesOf, rankCandidates, rankingProposal, type Owned } from '../../shared/agent/rank.ts';
import { enforceRules, type Proposal } from '../../shared/agent/rules.ts';
import { maxAgeOf } from '../../shared/memory/freshness.ts';
import type { SearchOutcome } from '../../shared/db/companies.ts';
import type { BasicCompany } from '../../shared/providers/index.ts';
import type { JobContext, Processor, StageDeps } from '../deps.ts';
import { standDown } from '../handoff.ts';
import { consult } from '../model.ts';
import type { Payload } from '../payloads.ts';

/**
 * Search: the agent plans the free searches (the model, or the theme's keywords), runs them, dedupes and
 * ranks what they found, and decides what is worth buying (the model, or the ranking) — under the rules
 * of shared/agent/rules.ts, which no answer can move. Then it hands the task to authorize (or straight
 * to report when nothing is worth buying). A redelivered job keeps the plan and decisions stored first.
 */
export const processSearch: Processor<Payload<'search'>> = async ({ taskId }, deps, ctx) => {
  const task = await deps.repos.tasks.enterStage(taskId, 'search');
  if (!task) return standDown(deps, taskId);
  const soFar = await deps.repos.agent.searchSoFar(taskId);
  // An outcome stored apart from its hand-on (by a version that wrote them one after the other): only the hand-on is left.
  if (soFar.searched) return handOn(deps, taskId, soFar.found, soFar.chosen);

  const plan = soFar.plan ? { queries: soFar.plan.queries, plannedBy: soFar.plan.planned_by, notes: soFar.plan.notes } : await planSearches(deps, taskId, task.theme, ctx);
  const queries = plan.queries;
  const results: BasicCompany[] = [];
  const hitsOf = new Map<string, number>();
  let cached = 0;
  for (const query of queries) {
    // Short-term memory: the tenant's same search within SEARCH_CACHE_TTL costs no provider call.
    const { results: hits, hit } = await deps.searchCache.search(task.tenant, query, () => deps.providers.marketplace.search(query, ctx.signal));
    if (hit) cached++;
    hitsOf.set(query, hits.length);
    results.push(...hits);
  }
  // Relevance is to the theme: a model's wider searches bring more candidates, not other yardsticks. A
  // keyword's rarity is its own search's hit count, or (not searched alone) how many results mention it.
  const keywords = keywordsOf(task.theme);
  const pool = [...new Map(results.map((r) => [r.id, r])).values()];
  const found = new Map(keywords.map((k) => [k, hitsOf.get(k) ?? pool.filter((r) => matchesOf(r, [k]).length > 0).length]));
  const ranked = rankCandidates(results, keywords, keywordWeights(found));

  // Long-term memory: a record the tenant owns within the task's freshness window costs nothing now.
  const recalled = await deps.repos.memory.recall(task.tenant, ranked.map((r) => r.company.id), maxAgeOf(task, deps.memory.maxAgeSeconds));
  const owned: Owned = new Map([...recalled].map(([id, r]) => [id, { ageSeconds: r.ageSeconds }]));
  const input = { theme: task.theme, candidates: ranked, remainingBudget: task.budget_limit, maxCompanies: task.max_companies, owned };
  const decided = ranked.length
    ? await consult<{ proposal: Proposal; notes: string[] }>(
        deps,
        taskId,
        'decide',
        ctx,
        deps.model && ((onUsage) => decideWithModel(deps.model!, input, { signal: ctx.signal, onUsage })),
        () => ({ proposal: rankingProposal(ranked, task.budget_limit, task.max_companies, owned), notes: [] }),
      )
    : undefined;
  const verdict = enforceRules({
    candidates: ranked.map((r) => ({ companyId: r.company.id, price: costNow(r.company, owned) })),
    remainingBudget: input.remainingBudget,
    maxCompanies: input.maxCompanies,
    proposal: ownedCostNothing(decided?.value.proposal ?? { by: 'rules', buy: [], skip: [] }, owned),
  });
  if (verdict.violations.length) deps.log.warn({ taskId, violations: verdict.violations }, 'the proposal broke the buying rules: clipped');
  const notes = [
    ...(decided?.note ? [decided.note] : []),
    ...(decided?.value.notes ?? []),
    ...verdict.violations.map((v) => `${v.rule} ${v.companyId}: ${v.message}`),
  ];

  const candidates = candidatesOf(ranked, verdict.decisions);
  const chosen = candidates.filter((c) => c.chosen).length;
  const decidedBy = decided?.value.proposal.by ?? 'rules';
  // One statement: the decision, the candidates, the story of the search (searched, candidates, a
  // decision each) and the hand-on with its stage event — or, when the task may no longer move on, nothing.
  const next = nextStage(chosen);
  const moved = await deps.repos.companies.saveSearch(taskId, {
    candidates,
    searched: {
      queries,
      plannedBy: plan.plannedBy,
      decidedBy,
      found: candidates.length,
      chosen,
      owned: candidates.filter((c) => c.chosen && owned.has(c.companyId)).length,
      cachedSearches: cached,
      clipped: verdict.violations.length,
    },
    plan,
    decidedBy,
    notes,
    next,
  });
  if (!moved) return standDown(deps, taskId);
  await queueStage(deps, taskId, next);
  return { found: candidates.length, chosen };
};

/**
 * Plans the searches (model or keywords). A plan the model was asked for is stored at once, so a retry
 * (the model's decision, a provider, a crash failing after it) does not ask the model again; a plan of the
 * keywords is stored with the search's outcome, as it comes out the same on a retry.
 */
async function planSearches(deps: StageDeps, taskId: string, theme: string, ctx: JobContext): Promise<SearchOutcome['plan']> {
  const planned = await consult<Plan>(
    deps,
    taskId,
    'plan',
    ctx,
    deps.model && ((onUsage) => planWithModel(deps.model!, theme, { signal: ctx.signal, onUsage })),
    () => planOffline(theme),
  );
  const plan = { queries: planned.value.queries, plannedBy: planned.value.by, notes: [...(planned.note ? [planned.note] : []), ...planned.value.notes] };
  if (!deps.model) return plan;
  const saved = await deps.repos.agent.savePlan(taskId, plan);
  // Saved by a racing run first: that plan stands.
  return { queries: saved.queries, plannedBy: saved.planned_by, notes: saved.notes };
}

/** To authorize when something is to be bought, else to the report. */
const nextStage = (chosen: number) => (chosen > 0 ? 'authorize' : 'report');

const queueStage = (deps: StageDeps, taskId: string, next: 'authorize' | 'report') => (next === 'authorize' ? deps.producer.authorize(taskId) : deps.producer.report(taskId));

/** Moves on a task whose search outcome is stored already. */
async function handOn(deps: StageDeps, taskId: string, found: number, chosen: number) {
  const next = nextStage(chosen);
  if (!(await deps.repos.tasks.enterStage(taskId, next))) return standDown(deps, taskId);
  await queueStage(deps, taskId, next);
  return { found, chosen };
}

/**
 * A record the tenant owns costs nothing, whatever price a proposal offers for it (a model may quote the
 * listing): the offer is dropped rather than clipped, so no rule is said to be broken.
 */
function ownedCostNothing(proposal: Proposal, owned: Owned): Proposal {
  return { ...proposal, buy: proposal.buy.map((p) => (owned.has(p.companyId) ? { companyId: p.companyId, reason: p.reason } : p)) };
}
