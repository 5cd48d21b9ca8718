import { z } from 'zod';
import { TransientError } from '../errors.ts';
import { failure, request } from './http.ts';

const verdict = z.object({ verified: z.boolean(), score: z.number().optional() });

/** The voice-ID check the user passes before a budget token is issued. */
export class VoiceIdClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async verify(input: { voiceId: string; reference: string; amount: string }, signal?: AbortSignal): Promise<z.infer<typeof verdict>> {
    const answer = await request(`${this.baseUrl}/v1/verify`, { route: 'voice ID POST /v1/verify', method: 'POST', json: input, timeoutMs: this.timeoutMs, signal });
    if (answer.status !== 200) throw failure(answer, answer.body?.error?.code, 'voice ID');
    const parsed = verdict.safeParse(answer.body);
    if (!parsed.success) throw new TransientError('bad_response', 'voice ID returned an unexpected body');
    return parsed.data;
  }
}
