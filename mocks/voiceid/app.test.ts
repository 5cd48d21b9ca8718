import { describe, expect, it } from 'vitest';
import { body } from '../testing/helpers.ts';
import { createVoiceIdApp } from './app.ts';

const app = createVoiceIdApp({ enrolled: ['demo-voice', 'alice'] });
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
