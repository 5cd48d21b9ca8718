import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redisTarget, tracingSettings } from './config.ts';

/** Runs loadConfig and returns the ConfigError it throws (fails the test when it does not throw one). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig(${JSON.stringify(env)}) did not throw`);
}

describe('loadConfig: defaults (DESIGN §6)', () => {
  it('an empty environment gives the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8000);
    expect(c.DATA_DIR).toBe('./.data');
    expect(c.VOICEID_ENROLLED).toBe('demo-voice');
    // Unset means: embedded Redis / PGlite, mocks started on free ports, the offline report writer.
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.MARKETPLACE_URL).toBeUndefined();
    expect(c.TOKEN_ISSUER_URL).toBeUndefined();
    expect(c.VOICEID_URL).toBeUndefined();
    expect(c.OPENAI_API_KEY).toBeUndefined();
    expect(c.API_KEYS).toBeInstanceOf(Map);
    expect(c.API_KEYS.size).toBeGreaterThan(0);
  });

  it('does not read process.env when an environment is passed', () => {
    const saved = process.env.PORT;
    process.env.PORT = 'not-a-port';
    try {
      expect(loadConfig({}).PORT).toBe(8000);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });

  it('an empty DATABASE_URL or REDIS_URL means unset, not invalid', () => {
    const c = loadConfig({ DATABASE_URL: '', REDIS_URL: '' });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.REDIS_URL).toBeUndefined();
  });

  it('takes valid values as given', () => {
    const c = loadConfig({
      PORT: '9123',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      DATA_DIR: '/tmp/arp',
      QUEUE_PREFIX: 'arp-2',
      MARKETPLACE_URL: 'http://127.0.0.1:7001',
    });
    expect(c.PORT).toBe(9123);
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(c.DATA_DIR).toBe('/tmp/arp');
    expect(c.QUEUE_PREFIX).toBe('arp-2');
    expect(c.MARKETPLACE_URL).toBe('http://127.0.0.1:7001');
  });

  it.each([['rediss://cache.example:6380'], ['redis://:secret@127.0.0.1:6379/2']])('accepts REDIS_URL %s', (url) => {
    expect(loadConfig({ REDIS_URL: url }).REDIS_URL).toBe(url);
  });

  it.each([['postgresql://u:p@db:5432/arp'], ['postgres://postgres:postgres@postgres:5432/arp']])('accepts DATABASE_URL %s', (url) => {
    expect(loadConfig({ DATABASE_URL: url }).DATABASE_URL).toBe(url);
  });
});

describe('loadConfig: a bad value throws a ConfigError that names the variable', () => {
  it.each([['abc'], ['70000'], ['65536'], ['-1'], ['80.5']])('PORT=%j', (value) => {
    expect(configError({ PORT: value }).message).toContain('PORT');
  });

  it('an empty PORT never becomes port 0 (a random port): it is the default or an error', () => {
    let port: number | undefined;
    try {
      port = loadConfig({ PORT: '' }).PORT;
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toContain('PORT');
      return;
    }
    expect(port).toBe(8000);
  });

  it.each([['localhost:6379'], ['127.0.0.1:6379'], ['http://127.0.0.1:6379'], ['not a url']])('REDIS_URL=%j', (value) => {
    expect(configError({ REDIS_URL: value }).message).toContain('REDIS_URL');
  });

  it.each([['mysql://root@127.0.0.1/test'], ['127.0.0.1:5432'], ['not a url'], ['http://db:5432/arp']])('DATABASE_URL=%j', (value) => {
    expect(configError({ DATABASE_URL: value }).message).toContain('DATABASE_URL');
  });

  it.each([['garbage'], ['a:k1:extra'], ['a:'], [':k1'], ['a:k1,garbage'], [',']])('API_KEYS=%j', (value) => {
    expect(configError({ API_KEYS: value }).message).toContain('API_KEYS');
  });

  it.each([['acme:'], [':acme-voice'], ['demo-voice,,x'], [' , ']])('VOICEID_ENROLLED=%j', (value) => {
    expect(configError({ VOICEID_ENROLLED: value }).message).toContain('VOICEID_ENROLLED');
  });

  it('accepts VOICEID_ENROLLED entries for every tenant and for one', () => {
    expect(loadConfig({ VOICEID_ENROLLED: 'demo-voice, acme:acme-voice,globex:v' }).VOICEID_ENROLLED).toBe('demo-voice, acme:acme-voice,globex:v');
  });

  it('names every bad variable, not just the first', () => {
    const message = configError({ PORT: 'x', DATABASE_URL: 'mysql://x', API_KEYS: 'garbage' }).message;
    expect(message).toContain('PORT');
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('API_KEYS');
  });

  it('does not blame a variable that is fine', () => {
    const message = configError({ PORT: '8080', DATABASE_URL: 'mysql://x' }).message;
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('PORT');
  });
});

describe('loadConfig: API_KEYS is tenant:key,tenant:key', () => {
  it('"a:k1,b:k2" maps key k1 to tenant a and k2 to tenant b', () => {
    const keys = loadConfig({ API_KEYS: 'a:k1,b:k2' }).API_KEYS;
    expect(keys.get('k1')).toBe('a');
    expect(keys.get('k2')).toBe('b');
    expect(keys.size).toBe(2);
    // Looked up by key, never by tenant.
    expect(keys.get('a')).toBeUndefined();
  });

  it('one tenant may hold several keys', () => {
    const keys = loadConfig({ API_KEYS: 'acme:key-1,acme:key-2,other:key-3' }).API_KEYS;
    expect([...keys.entries()].sort()).toEqual([
      ['key-1', 'acme'],
      ['key-2', 'acme'],
      ['key-3', 'other'],
    ]);
  });

  it('ignores spaces around the pairs and empty entries', () => {
    const keys = loadConfig({ API_KEYS: ' a:k1 , b:k2 ,' }).API_KEYS;
    expect(keys.get('k1')).toBe('a');
    expect(keys.get('k2')).toBe('b');
    expect(keys.size).toBe(2);
  });
});

describe('loadConfig: LLM_PRICES', () => {
  it('defaults to the default model at its list price, and reads a JSON price list', () => {
    expect(loadConfig({}).LLM_PRICES.get('gpt-4o-mini')).toEqual({ input: 150_000, output: 600_000 });
    const c = loadConfig({ LLM_PRICES: '{"mock-model":{"input":"1.25","output":"5"}}' });
    expect([...c.LLM_PRICES]).toEqual([['mock-model', { input: 1_250_000, output: 5_000_000 }]]);
  });

  it('a bad price list stops the start, naming the variable and the entry', () => {
    expect(configError({ LLM_PRICES: '{"m":{"input":"0.1.2","output":"1"}}' }).message).toMatch(/LLM_PRICES: m\.input: must be a price/);
    expect(configError({ LLM_PRICES: 'gpt-4o-mini=0.15' }).message).toMatch(/LLM_PRICES: must be a JSON object/);
  });
});

describe('loadConfig: the tenant spending-policy defaults (TENANT_*)', () => {
  it('unset: 120 submissions a minute, 200 open tasks, no largest budget, no daily cap', () => {
    const c = loadConfig({});
    expect([c.TENANT_TASKS_PER_MINUTE, c.TENANT_OPEN_TASKS, c.TENANT_MAX_BUDGET, c.TENANT_DAILY_SPEND]).toEqual([120, 200, undefined, undefined]);
    expect(loadConfig({ TENANT_MAX_BUDGET: ' ', TENANT_DAILY_SPEND: '' }).TENANT_DAILY_SPEND).toBeUndefined();
  });

  it('money is a decimal amount of CNY, read into fen', () => {
    const c = loadConfig({ TENANT_TASKS_PER_MINUTE: '30', TENANT_OPEN_TASKS: '5', TENANT_MAX_BUDGET: '250.5', TENANT_DAILY_SPEND: '1000.00' });
    expect([c.TENANT_TASKS_PER_MINUTE, c.TENANT_OPEN_TASKS, c.TENANT_MAX_BUDGET, c.TENANT_DAILY_SPEND]).toEqual([30, 5, 25_050, 100_000]);
  });

  it.each([
    ['TENANT_TASKS_PER_MINUTE', '0'],
    ['TENANT_TASKS_PER_MINUTE', 'many'],
    ['TENANT_OPEN_TASKS', '-1'],
    ['TENANT_MAX_BUDGET', '0'],
    ['TENANT_MAX_BUDGET', '12.345'],
    ['TENANT_DAILY_SPEND', '-5'],
    ['TENANT_DAILY_SPEND', 'lots'],
  ])('%s=%j is refused, naming the variable', (name, value) => {
    expect(configError({ [name]: value }).message).toContain(name);
  });
});

describe('loadConfig: memory (MEMORY_MAX_AGE, MEMORY_RETENTION, SEARCH_CACHE_TTL)', () => {
  it('unset: a week of freshness, 90 days of retention, five minutes of search cache', () => {
    const c = loadConfig({});
    expect([c.MEMORY_MAX_AGE, c.MEMORY_RETENTION, c.SEARCH_CACHE_TTL]).toEqual([604_800, 7_776_000, 300]);
  });

  it('0 turns reuse and the cache off; the bounds are inclusive', () => {
    const c = loadConfig({ MEMORY_MAX_AGE: '0', SEARCH_CACHE_TTL: '0', MEMORY_RETENTION: '3600' });
    expect([c.MEMORY_MAX_AGE, c.SEARCH_CACHE_TTL, c.MEMORY_RETENTION]).toEqual([0, 0, 3600]);
    expect(loadConfig({ MEMORY_MAX_AGE: '31536000' }).MEMORY_MAX_AGE).toBe(31_536_000);
  });

  it.each([
    ['MEMORY_MAX_AGE', '-1'],
    ['MEMORY_MAX_AGE', '31536001'],
    ['MEMORY_MAX_AGE', '7d'],
    ['MEMORY_RETENTION', '0'],
    ['MEMORY_RETENTION', '3599'],
    ['SEARCH_CACHE_TTL', '86401'],
    ['SEARCH_CACHE_TTL', '1.5'],
  ])('%s=%j is refused, naming the variable', (name, value) => {
    expect(configError({ [name]: value }).message).toContain(name);
  });
});

describe('loadConfig: operating (issue 15): log format, tracing, the worker port', () => {
  it('unset: JSON or pretty chosen by the program (auto), no tracing, no worker port', () => {
    const c = loadConfig({});
    expect(c.LOG_FORMAT).toBe('auto');
    expect(c.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(c.WORKER_HTTP_PORT).toBeUndefined();
    expect(c.WORKER_HTTP_HOST).toBe('127.0.0.1');
    expect(loadConfig({ WORKER_HTTP_PORT: '', OTEL_EXPORTER_OTLP_ENDPOINT: '', LOG_FORMAT: '' })).toMatchObject({ LOG_FORMAT: 'auto' });
    expect(loadConfig({ WORKER_HTTP_PORT: '' }).WORKER_HTTP_PORT).toBeUndefined();
  });

  it('takes valid values', () => {
    const c = loadConfig({ LOG_FORMAT: 'pretty', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', WORKER_HTTP_PORT: '9464', WORKER_HTTP_HOST: '0.0.0.0' });
    expect(c).toMatchObject({ LOG_FORMAT: 'pretty', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', WORKER_HTTP_PORT: 9464, WORKER_HTTP_HOST: '0.0.0.0' });
    expect(loadConfig({ WORKER_HTTP_PORT: '0' }).WORKER_HTTP_PORT).toBe(0);
  });

  it('a bad value names its variable', () => {
    expect(configError({ LOG_FORMAT: 'xml' }).message).toMatch(/LOG_FORMAT/);
    expect(configError({ WORKER_HTTP_PORT: 'ninety' }).message).toMatch(/WORKER_HTTP_PORT/);
    expect(configError({ WORKER_HTTP_PORT: '70000' }).message).toMatch(/WORKER_HTTP_PORT/);
    expect(configError({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }).message).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });

  it('the tracing variables are read alone first (before the rest of the configuration), with the same rule', () => {
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example:4318', PORT: 'not checked here' })).toEqual({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example:4318' });
    expect(tracingSettings({})).toEqual({});
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' })).toThrow(ConfigError);
    expect(() => tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});

describe('loadConfig: REDIS_CLUSTER_NODES (issue 17)', () => {
  it('host:port entries become the seed nodes of a cluster, which wins over REDIS_URL', () => {
    const c = loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, redis-1.internal:7001,' });
    expect(c.REDIS_CLUSTER_NODES).toEqual({ nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-1.internal', port: 7001 }], tls: false });
    expect(redisTarget(c)).toBe(c.REDIS_CLUSTER_NODES);
    expect(redisTarget(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '' }))).toBe('redis://127.0.0.1:6379');
  });

  it('rediss:// entries turn TLS on for every node, and carry the cluster user and password', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@a:6380,rediss://app:s%40cret@b:6380' });
    expect(c.REDIS_CLUSTER_NODES).toEqual({ nodes: [{ host: 'a', port: 6380 }, { host: 'b', port: 6380 }], tls: true, username: 'app', password: 's@cret' });
  });

  it('REDIS_CA_FILE and friends need rediss:// nodes, as they need a rediss:// REDIS_URL', () => {
    expect(configError({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_CA_FILE: '/ca.crt' }).message).toMatch(/REDIS_CLUSTER_NODES as rediss:\/\//);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'rediss://a:7000', REDIS_CA_FILE: '/ca.crt' }).REDIS_CA_FILE).toBe('/ca.crt');
  });

  it.each([
    ['a', /needs a host and a port/],
    ['a:0', /needs a host and a port/],
    [':7000', /not host:port|needs a host and a port/],
    ['http://a:7000', /redis:\/\/ or rediss:\/\/ only/],
    ['redis://a:7000/2', /database 0 only/],
    ['redis://a:7000,rediss://b:7000', /all rediss/],
    [' , ', /at least one node/],
  ])('REDIS_CLUSTER_NODES=%j is refused, naming the variable', (value, problem) => {
    const message = configError({ REDIS_CLUSTER_NODES: value }).message;
    expect(message).toContain('REDIS_CLUSTER_NODES');
    expect(message).toMatch(problem);
  });

  it('a refusal never repeats a password', () => {
    const message = configError({ REDIS_CLUSTER_NODES: 'redis://:hunter22@a:7000,redis://:other-pass@b:7000' }).message;
    expect(message).toMatch(/same user and password/);
    expect(message).not.toMatch(/hunter22|other-pass/);
  });
});
