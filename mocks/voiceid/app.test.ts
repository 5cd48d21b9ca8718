import { describe, expect, it } from 'vitest';
import { body } from '../testing/helpers.ts';
import { createVoiceIdApp as createApp } from './app.ts';
import { conforming } from '../testing/contract.ts';

/** The stand-in, held to its contract (mocks/voiceid/openapi.yaml) in every answer below. */
const createVoiceIdApp = (...args: Parameters<typeof createApp>) => conforming(createApp(...args), 'voiceid');

const app = createVoiceIdApp({ enrolled: ['demo-voice', 'alice', 'acme:acme-voice', 'globex:shared-voice', 'initech:shared-voice'] });
const verify = (payload: unknown) =>
  app.request('/v1/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof payload === 'string' ? payload : JSON.stringify(payload) });

describe('voice ID mock', () => {
  it('verifies an enrolled voice with a high, deterministic score', async () => {
    const res = await verify({ voiceId: 'demo-voice', reference: 'task-1', amount: '50.00' });
    expect(res.status).toBe(200);
    const first = await body(res);
    expect(first.verified).toBe(true);
    expect(first.score).toBeGreaterThanOrEqual(0.9);
    expect(first.score).toBeLessThanOrEqual(1);
    expect(await body(await verify({ voiceId: 'demo-voice', reference: 'task-1', amount: 50 }))).toEqual(first);
    expect((await body(await verify({ voiceId: 'alice', reference: 'task-2', amount: '1' }))).verified).toBe(true);
  });

  it('echoes the subject, reference and amount it verified (the amount as a two-place decimal)', async () => {
    const doc = await body(await verify({ voiceId: 'demo-voice', subject: 'acme', reference: 'task-9', amount: 12.5 }));
    expect(doc).toEqual({ verified: true, score: expect.any(Number), subject: 'acme', reference: 'task-9', amount: '12.50' });
    expect(await body(await verify({ voiceId: 'demo-voice', reference: 'task-9', amount: '3' }))).toMatchObject({ subject: null, reference: 'task-9', amount: '3.00' });
  });

  it('verifies a bare voice for every subject, and a subject:voice enrolment for that subject only', async () => {
    const check = async (voiceId: string, subject?: string) => (await body(await verify({ voiceId, ...(subject ? { subject } : {}), reference: 'r', amount: '1.00' }))).verified;
    expect(await check('demo-voice', 'acme')).toBe(true);
    expect(await check('demo-voice', 'anyone')).toBe(true);
    expect(await check('acme-voice', 'acme')).toBe(true);
    expect(await check('acme-voice', 'globex')).toBe(false);
    // An old caller that names no subject cannot use a voice bound to one.
    expect(await check('acme-voice')).toBe(false);
    // The same voice may be enrolled for several subjects.
    expect(await check('shared-voice', 'globex')).toBe(true);
    expect(await check('shared-voice', 'initech')).toBe(true);
    expect(await check('shared-voice', 'acme')).toBe(false);
    // The entry itself is not a voice id.
    expect(await check('acme:acme-voice', 'acme')).toBe(false);
  });

  it('answers verified: false with a low score for an unknown voice (not an error)', async () => {
    const res = await verify({ voiceId: 'mallory', reference: 'task-1', amount: '50.00' });
    expect(res.status).toBe(200);
    const doc = await body(res);
    expect(doc.verified).toBe(false);
    expect(doc.score).toBeLessThan(0.5);
  });

  it.each([
    ['no voiceId', { reference: 'r', amount: '1.00' }],
    ['no reference', { voiceId: 'demo-voice', amount: '1.00' }],
    ['no amount', { voiceId: 'demo-voice', reference: 'r' }],
    ['bad amount', { voiceId: 'demo-voice', reference: 'r', amount: '1.234' }],
    ['empty subject', { voiceId: 'demo-voice', subject: '', reference: 'r', amount: '1.00' }],
    ['subject not a string', { voiceId: 'demo-voice', subject: 7, reference: 'r', amount: '1.00' }],
    ['not json', 'nope'],
  ])('answers 400 on a bad body: %s', async (_name, payload) => {
    const res = await verify(payload);
    expect(res.status).toBe(400);
    expect((await body(res)).error.code).toBe('invalid_request');
  });

  it('serves /healthz', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
  });
});
