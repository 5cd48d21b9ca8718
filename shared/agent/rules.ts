import { formatMoney } from '../money.ts';
import { oneLine } from './text.ts';

/**
 * The budget guard of the agent's buying decisions, in code where no model can move it. A model (or the
 * offline ranking) proposes what to buy; {@link enforceRules} keeps only what the rules allow:
 * - only candidates the free search listed (anything else is ignored);
 * - at most the listed price (the detail stage pays no more than the listing: a higher offer is clipped to it);
 * - within the remaining budget (in the proposal's order of preference, each pick that still fits);
 * - at most `maxCompanies` purchases.
 * A proposal that breaks a rule is clipped to the rule; each clip is returned as a violation (to log) and
 * said in the decision of the company it concerns. Pure: no I/O, no clock, no randomness.
 */

/** Who made a decision: the model, or our rules (the offline ranking, or a clip of the model's answer). */
export type DecidedBy = 'model' | 'rules';

/** What the agent decided about one listed candidate. */
export interface Decision {
  action: 'buy' | 'skip';
  /** One line, in words. */
  reason: string;
  by: DecidedBy;
}

/** A candidate as the rules see it. Money in fen. */
export interface Listed {
  companyId: string;
  /** The listed price: the most a purchase may cost. */
  price: number;
}

/** A pick of a proposal. `price` (fen), when given, is what the proposer means to pay. */
export interface Pick {
  companyId: string;
  price?: number;
  reason: string;
}

/** What a model (or the ranking) would buy, most wanted first, and why it passes over the rest. */
export interface Proposal {
  by: DecidedBy;
  buy: Pick[];
  skip: Array<{ companyId: string; reason: string }>;
}

export type RuleName = 'unlisted' | 'duplicate' | 'over_price' | 'under_price' | 'over_count' | 'over_budget';

/** A rule a proposal broke, and what was done about it. */
export interface Violation {
  rule: RuleName;
  companyId: string;
  message: string;
}

export interface Verdict {
  /** One decision per listed candidate, keyed by company id, in the listing's order. */
  decisions: Map<string, Decision>;
  /** What is bought, in the order it was wanted, with the price bound (the listed price). */
  buy: Array<{ companyId: string; price: number }>;
  violations: Violation[];
}

/** Longest reason kept (a model's reason is untrusted text). */
export const MAX_REASON = 300;
/** Longest company id quoted in a violation (a model may name anything). */
const MAX_QUOTED_ID = 80;

const money = (fen: number) => `${formatMoney(fen)} CNY`;

/**
 * Applies the rules to a proposal. `remainingBudget` and every price are fen; `maxCompanies` ≥ 0.
 * Returns a decision for every listed candidate and the violations found.
 */
export function enforceRules(input: { candidates: readonly Listed[]; remainingBudget: number; maxCompanies: number; proposal: Proposal }): Verdict {
  const { candidates, proposal } = input;
  const remaining = Math.max(0, input.remainingBudget);
  const listed = new Map(candidates.map((c) => [c.companyId, c]));
  const decisions = new Map<string, Decision>();
  const buy: Verdict['buy'] = [];
  const violations: Violation[] = [];
  const seen = new Set<string>();
  let committed = 0;

  const refuse = (rule: RuleName, companyId: string, wanted: string, message: string) => {
    violations.push({ rule, companyId, message });
    if (listed.has(companyId)) decisions.set(companyId, { action: 'skip', reason: oneLine(`${wanted}; refused: ${message}`, MAX_REASON), by: 'rules' });
  };

  for (const pick of proposal.buy) {
    const id = pick.companyId;
    const candidate = listed.get(id);
    const wanted = `${proposal.by === 'model' ? 'the model' : 'the ranking'} would buy it (${oneLine(pick.reason, 200) || 'no reason given'})`;
    if (!candidate) {
      violations.push({ rule: 'unlisted', companyId: oneLine(id, MAX_QUOTED_ID), message: `not a candidate of this task's search: ignored` });
      continue;
    }
    if (seen.has(id)) {
      violations.push({ rule: 'duplicate', companyId: id, message: 'picked more than once: counted once' });
      continue;
    }
    seen.add(id);
    if (pick.price !== undefined && pick.price < candidate.price) {
      refuse('under_price', id, wanted, `it would pay at most ${money(pick.price)}, below the listed ${money(candidate.price)}`);
      continue;
    }
    if (buy.length >= input.maxCompanies) {
      refuse('over_count', id, wanted, `${input.maxCompanies} compan${input.maxCompanies === 1 ? 'y is' : 'ies are'} the most this task may buy (maxCompanies)`);
      continue;
    }
    if (committed + candidate.price > remaining) {
      refuse('over_budget', id, wanted, `${money(candidate.price)} would exceed the remaining budget (${money(remaining - committed)} left)`);
      continue;
    }
    committed += candidate.price;
    buy.push({ companyId: id, price: candidate.price });
    if (pick.price !== undefined && pick.price > candidate.price) {
      const message = `offered ${money(pick.price)}: clipped to the listed ${money(candidate.price)}`;
      violations.push({ rule: 'over_price', companyId: id, message });
      decisions.set(id, { action: 'buy', reason: oneLine(`${oneLine(pick.reason, 200) || 'picked'}; ${message}`, MAX_REASON), by: 'rules' });
    } else {
      decisions.set(id, { action: 'buy', reason: oneLine(pick.reason, MAX_REASON) || 'picked', by: proposal.by });
    }
  }

  const skipReasons = new Map(proposal.skip.map((s) => [s.companyId, s.reason]));
  const ordered = new Map<string, Decision>();
  for (const c of candidates) {
    const decided = decisions.get(c.companyId);
    if (decided) {
      ordered.set(c.companyId, decided);
      continue;
    }
    const given = oneLine(skipReasons.get(c.companyId) ?? '', MAX_REASON);
    ordered.set(c.companyId, { action: 'skip', reason: given || `not picked by ${proposal.by === 'model' ? 'the model' : 'the ranking'}`, by: proposal.by });
  }
  return { decisions: ordered, buy, violations };
}
