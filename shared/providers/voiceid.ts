import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { TransientError } from '../errors.ts';
import { MoneyFormatError, parseMoney } from '../money.ts';
import { failure, refuseOverLimit, request } from './http.ts';

const answer = z.object({
  verified: z.boolean(),
  score: z.number().optional(),
  subject: z.string().nullable().optional(),
  reference: z.string().optional(),
  amount: z.union([z.string(), z.number()]).optional(),
});

/** What consent is asked for: this voice, of this tenant (`subject`), for this task and amount. */
export interface VoiceCheck {
  voiceId: string;
  /** The tenant the voice must belong to. */
  subject: string;
  /** The task id. */
  reference: string;
  /** The budget, a decimal string. */
  amount: string;
}

/** The verdict as we take it. */
export interface VoiceVerdict {
  verified: boolean;
  score?: number;
  /**
   * Set when the service said `verified` but for something else than was asked: which of subject,
   * reference and amount its answer did not echo. Such a verdict is not consent (`verified` is false).
   */
  mismatch?: Array<'subject' | 'reference' | 'amount'>;
}

function sameAmount(echoed: string | number | undefined, asked: string): boolean {
  if (echoed === undefined) return false;
  try {
    return parseMoney(echoed) === parseMoney(asked);
  } catch (err) {
    if (err instanceof MoneyFormatError) return false;
    throw err;
  }
}

/**
 * The voice-ID check the user passes before a budget token is issued (DESIGN.md §4 Voice ID). Consent is
 * bound to the tenant, the task and the amount: a `verified` answer counts only when it echoes all three
 * (amounts compared by value).
 */
export class VoiceIdClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
    private readonly dispatcher?: Dispatcher,
  ) {}

  async verify(input: VoiceCheck, signal?: AbortSignal): Promise<VoiceVerdict> {
    const res = await request(`${this.baseUrl}/v1/verify`, { provider: 'voiceid', route: 'voice ID POST /v1/verify', method: 'POST', json: input, timeoutMs: this.timeoutMs, dispatcher: this.dispatcher, signal });
    if (res.status !== 200) throw failure(res, res.body?.error?.code, 'voice ID');
    refuseOverLimit(res, 'voice ID');
    const parsed = answer.safeParse(res.body);
    if (!parsed.success) throw new TransientError('bad_response', 'voice ID returned an unexpected body');
    const v = parsed.data;
    const score = v.score === undefined ? {} : { score: v.score };
    if (!v.verified) return { verified: false, ...score };
    const mismatch: NonNullable<VoiceVerdict['mismatch']> = [];
    if (v.subject !== input.subject) mismatch.push('subject');
    if (v.reference !== input.reference) mismatch.push('reference');
    if (!sameAmount(v.amount, input.amount)) mismatch.push('amount');
    return mismatch.length ? { verified: false, ...score, mismatch } : { verified: true, ...score };
  }
}
