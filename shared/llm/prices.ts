/**
 * Model prices and costs, without floating point. `LLM_PRICES` gives each model's price in USD per
 * million tokens, input and output (`{"gpt-4o-mini":{"input":"0.15","output":"0.60"}}`; JSON numbers
 * are read through their shortest decimal form, like money). Inside, a price is an integer number of
 * micro-dollars per million tokens, and a call's cost an integer number of micro-dollars (USD × 10⁶),
 * rounded up per call — never understated. On the wire a cost is a decimal string with six places.
 */

/** A model's price: integer micro-dollars per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
}

export type PriceList = ReadonlyMap<string, ModelPrice>;

/** At most six decimals (a micro-dollar per million tokens), at most 100000 USD per million tokens. */
const RATE = /^(0|[1-9]\d{0,5})(?:\.(\d{1,6}))?$/;

/** A price in USD per million tokens (decimal string or number) as micro-dollars per million; throws with the rule. */
export function parseRate(value: unknown): number {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  const match = text === undefined ? null : RATE.exec(text);
  if (!match) throw new Error('must be a price in USD per million tokens: a decimal with at most six places, 0 to 100000');
  return Number(match[1]) * 1_000_000 + Number((match[2] ?? '').padEnd(6, '0'));
}

/** Reads `LLM_PRICES` (a JSON object, model → { input, output }); throws naming the entry at fault. */
export function parsePriceList(json: string): PriceList {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('must be a JSON object: {"model":{"input":"0.15","output":"0.60"}}');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('must be a JSON object: {"model":{"input":"0.15","output":"0.60"}}');
  const prices = new Map<string, ModelPrice>();
  for (const [model, entry] of Object.entries(raw)) {
    if (model.trim() === '') throw new Error('a model name is empty');
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${model}: must be {"input": …, "output": …}`);
    const e = entry as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => k !== 'input' && k !== 'output');
    if (extra.length) throw new Error(`${model}: unknown field ${extra[0]} (only input and output)`);
    for (const side of ['input', 'output'] as const) {
      try {
        parseRate(e[side]);
      } catch (err) {
        throw new Error(`${model}.${side}: ${(err as Error).message}`);
      }
    }
    prices.set(model, { input: parseRate(e.input), output: parseRate(e.output) });
  }
  return prices;
}

const MILLION = 1_000_000n;

/** The cost of one call in micro-dollars, rounded up; undefined when the model has no price. */
export function callCost(prices: PriceList, model: string, inputTokens: number, outputTokens: number): number | undefined {
  const price = prices.get(model);
  if (!price) return undefined;
  const picoDollars = BigInt(inputTokens) * BigInt(price.input) + BigInt(outputTokens) * BigInt(price.output);
  return Number((picoDollars + MILLION - 1n) / MILLION);
}

/** Micro-dollars as the wire's decimal string: 1234 → "0.001234". */
export function formatMicroUsd(micro: number): string {
  if (!Number.isSafeInteger(micro) || micro < 0) throw new Error(`not a cost in micro-dollars: ${micro}`);
  return `${Math.floor(micro / 1_000_000)}.${String(micro % 1_000_000).padStart(6, '0')}`;
}
