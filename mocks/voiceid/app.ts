import { Hono } from 'hono';
import { z } from 'zod';
import { describeIssues, readJsonBody } from '../lib/json-body.ts';
import { formatAmount, parseAmount } from '../lib/money.ts';
import { hashString } from '../lib/prng.ts';
import { parseEnrolment } from './enrolment.ts';

/** Options of the voice-ID mock. */
export interface VoiceIdOptions {
  /**
   * Enrolments (`VOICEID_ENROLLED`): `voice` is enrolled for every subject, `subject:voice` for that
   * subject (tenant) only. An entry is split at its first colon.
   */
  enrolled: string[];
}

const VerifyBody = z.object({
  voiceId: z.string().min(1).max(200),
  /** The tenant the voice must belong to; optional for old callers (who then only pass a voice enrolled for everyone). */
  subject: z.string().min(1).max(200).optional(),
  reference: z.string().min(1).max(200),
  amount: z.union([z.string(), z.number()]),
});

/** Who may use which voice: voices enrolled for everyone, and voice → the subjects it is enrolled for. */
function enrolments(entries: string[]) {
  const everyone = new Set<string>();
  const bound = new Map<string, Set<string>>();
  for (const entry of entries) {
    const e = parseEnrolment(entry);
    if (!e) continue;
    if (e.subject === undefined) everyone.add(e.voice);
    else bound.set(e.voice, (bound.get(e.voice) ?? new Set()).add(e.subject));
  }
  return (voice: string, subject: string | undefined) => everyone.has(voice) || (subject !== undefined && (bound.get(voice)?.has(subject) ?? false));
}

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
 * Creates the voice-ID mock: `POST /v1/verify { voiceId, subject?, reference, amount }` → `{ verified, score,
 * subject, reference, amount }` (the last three echo what was verified; the amount as a two-place decimal).
 * An unknown voice, or one enrolled for another subject, is `verified: false`, not an error; a bad body is
 * 400 `{ error: { code, message } }`.
 */
export function createVoiceIdApp(opts: VoiceIdOptions): Hono {
  const isEnrolled = enrolments(opts.enrolled);
  const app = new Hono();
  const bad = (message: string) => ({ error: { code: 'invalid_request', message } });
  app.get('/healthz', (c) => c.json({ status: 'ok', service: 'voiceid' }));
  app.post('/v1/verify', async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return c.json(bad(body.message), 400);
    const parsed = VerifyBody.safeParse(body.value);
    if (!parsed.success) return c.json(bad(describeIssues(parsed.error.issues)), 400);
    const fen = parseAmount(parsed.data.amount);
    if (fen === null) return c.json(bad('amount: must be a positive decimal with at most two places'), 400);
    const { voiceId, subject, reference } = parsed.data;
    const verified = isEnrolled(voiceId, subject);
    return c.json({ verified, score: voiceScore(voiceId, reference, verified), subject: subject ?? null, reference, amount: formatAmount(fen) });
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((err, c) => c.json({ error: { code: 'internal_error', message: err.message } }, 500));
  return app;
}
