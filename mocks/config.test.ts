import { describe, expect, it } from 'vitest';
import { parseMocksEnv } from './config.ts';

describe('parseMocksEnv', () => {
  it('applies the defaults and serves every mock on a free port when no URL is set', () => {
    const config = parseMocksEnv({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      issuerApiKey: 'dev-issuer-key',
      receiptSecret: 'dev-receipt-secret',
      voiceEnrolled: ['demo-voice'],
      dataDir: './.data',
      skipped: [],
    });
    expect(config.faults).toBeUndefined();
    expect(config.serve.map((s) => [s.name, s.port]).sort()).toEqual([['llm', 0], ['marketplace', 0], ['tokenIssuer', 0], ['voiceid', 0]]);
  });

  it('takes each port from its URL variable and skips https providers', () => {
    const config = parseMocksEnv({
      MARKETPLACE_URL: 'http://mocks:4001',
      TOKEN_ISSUER_URL: 'http://127.0.0.1:4002/',
      VOICEID_URL: '',
      OPENAI_BASE_URL: 'https://api.openai.com/v1',
      VOICEID_ENROLLED: 'a, acme:b ,c',
      MOCKS_HOST: '0.0.0.0',
      MOCK_FAULTS: 'rate_429=0.1,seed=4',
    });
    const ports = Object.fromEntries(config.serve.map((s) => [s.name, s.port]));
    expect(ports).toEqual({ marketplace: 4001, tokenIssuer: 4002, voiceid: 0 });
    expect(config.skipped.map((s) => s.name)).toEqual(['llm']);
    expect(config.voiceEnrolled).toEqual(['a', 'acme:b', 'c']);
    expect(config.host).toBe('0.0.0.0');
    expect(config.faults).toMatchObject({ rate_429: 0.1, seed: 4 });
    expect(parseMocksEnv({ MOCK_ISSUER_FAULTS: 'error_5xx=0.2' }).issuerFaults).toMatchObject({ error_5xx: 0.2 });
  });

  it('reads the LLM stand-in mode (normal by default) and its faults', () => {
    expect(parseMocksEnv({}).llmMode).toBe('normal');
    expect(parseMocksEnv({ LLM_MOCK_MODE: 'obedient' }).llmMode).toBe('obedient');
    expect(parseMocksEnv({ MOCK_LLM_FAULTS: 'latency_ms=50,llm_bad_output=0.5' }).llmFaults).toMatchObject({ latency_ms: 50, llm_bad_output: 0.5 });
  });

  it.each([
    [{ MARKETPLACE_URL: 'not a url' }, /MARKETPLACE_URL/],
    [{ TOKEN_ISSUER_URL: 'ftp://x:21' }, /TOKEN_ISSUER_URL/],
    [{ MOCK_FAULTS: 'rate_429=7' }, /MOCK_FAULTS.*rate_429/],
    [{ VOICEID_ENROLLED: ' , ' }, /VOICEID_ENROLLED/],
    [{ VOICEID_ENROLLED: 'demo-voice,acme:' }, /VOICEID_ENROLLED.*subject:voice/],
    [{ VOICEID_ENROLLED: ':acme-voice' }, /VOICEID_ENROLLED/],
    [{ MOCK_ISSUER_FAULTS: 'pay_timeout=0.5' }, /MOCK_ISSUER_FAULTS.*pay_timeout/],
    [{ MOCK_LLM_FAULTS: 'detail_gone=0.5' }, /MOCK_LLM_FAULTS.*detail_gone/],
    [{ LLM_MOCK_MODE: 'gullible' }, /LLM_MOCK_MODE/],
  ])('names the bad variable: %j', (env, pattern) => {
    expect(() => parseMocksEnv(env)).toThrow(pattern);
  });
});
