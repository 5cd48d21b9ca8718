import type { Processor } from '../deps.ts';
import type { Payload } from '../payloads.ts';
import { standDown } from '../handoff.ts';
import { chooseCandidates, keywordsOf, keywordWeights } from './rank.ts';

/**
 * Search: free keyword searches at the marketplace, ranked; picks what fits the budget and hands the
 * task to authorize (or straight to report when nothing is worth buying).
 */
export const processSearch: Processor<Payload<'search'>> = async ({ taskId }, deps, ctx) => {
  const task = await deps.repos.tasks.enterStage(taskId, 'search');
  if (!task) return standDown(deps, taskId);
  const keywords = keywordsOf(task.theme);
  const results = [];
  const matches = new Map<string, number>();
  for (const keyword of keywords) {
    const found = await deps.providers.marketplace.search(keyword, ctx.signal);
    matches.set(keyword, found.length);
    results.push(...found);
  }
  const candidates = chooseCandidates(results, keywords, task.budget_limit, task.max_companies, keywordWeights(matches));
  await deps.repos.companies.saveCandidates(taskId, candidates);
  const chosen = candidates.filter((c) => c.chosen).length;
  await deps.repos.tasks.addEvent(taskId, 'searched', { keywords, found: candidates.length, chosen });
  const next = chosen > 0 ? 'authorize' : 'report';
  if (!(await deps.repos.tasks.enterStage(taskId, next))) return standDown(deps, taskId);
  await (next === 'authorize' ? deps.producer.authorize(taskId) : deps.producer.report(taskId));
  return { keywords, found: candidates.length, chosen };
};
