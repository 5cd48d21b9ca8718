import { Hono } from 'hono';
import { z } from 'zod';
import { describeIssues, readJsonBody } from '../lib/json-body.ts';
import { parseAmount } from '../lib/money.ts';
import { hashString } from '../lib/prng.ts';

/** Options of the voice-ID mock. */
export interface VoiceIdOptions {
  /** Voice ids that verify (`VOICEID_ENROLLED`). */
  enrolled: string[];
}

const VerifyBody = z.object({
  voiceId: z.string().min(1).max(200),
  reference: z.string().min(1).max(200),
  amount: z.union([z.string(), z.number()]),
});

/**
 * A deterministic score for a verification: enrolled voices score 0.93–0.99, unknown ones 0.05–0.35,
 * depending only on the voice id and the reference.
 */
export function voiceScore(voiceId: string, reference: string, enrolled: boolean): number {
  const unit = (hashString(`voice:${voiceId}:${reference}`) % 1000) / 1000;
  const score = enrolled ? 0.93 + unit * 0.06 : 0.05 + unit * 0.3;
  return Math.round(score * 100) / 100;
}

/**
 * Creates the voice-ID mock: `POST /v1/verify { voiceId, reference, amount }` → `{ verified, score }`. An unknown
 * voice is `verified: false`, not an error; a bad body is 400 `{ error: { code, message } }`.
 */
export function createVoiceIdApp(opts: VoiceIdOptions): Hono {
  const enrolled = new Set(opts.enrolled.map((v) => v.trim()).filter(Boolean));
  const app = new Hono();
  const bad = (message: string) => ({ error: { code: 'invalid_request', message } });
  app.get('/healthz', (c) => c.json({ status: 'ok', service: 'voiceid' }));
  app.post('/v1/verify', async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return c.json(bad(body.message), 400);
    const parsed = VerifyBody.safeParse(body.value);
    if (!parsed.success) return c.json(bad(describeIssues(parsed.error.issues)), 400);
    if (parseAmount(parsed.data.amount) === null) {
      return c.json(bad('amount: must be a positive decimal with at most two places'), 400);
    }
    const { voiceId, reference } = parsed.data;
    const verified = enrolled.has(voiceId);
    return c.json({ verified, score: voiceScore(voiceId, reference, verified) });
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((err, c) => c.json({ error: { code: 'internal_error', message: err.message } }, 500));
  return app;
}
