import { z } from 'zod';
import { parseFaults, type ResolvedFaults } from './faults.ts';
import type { MockName } from './index.ts';
import { parseEnrolment } from './voiceid/enrolment.ts';

/** Which environment variable places each mock. */
export const URL_VARIABLES: Readonly<Record<MockName, string>> = {
  marketplace: 'MARKETPLACE_URL',
  tokenIssuer: 'TOKEN_ISSUER_URL',
  voiceid: 'VOICEID_URL',
  llm: 'OPENAI_BASE_URL',
};

const blankIsUnset = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);
const optionalUrl = z.preprocess(blankIsUnset, z.url({ protocol: /^https?$/ }).optional());

const ISSUER_KINDS = new Set(['latency_ms', 'rate_429', 'error_5xx', 'seed']);

/** A `MOCK_FAULTS`-style variable; for the issuer only request-level kinds are allowed. */
function faultsVariable(issuerOnly: boolean) {
  return z.preprocess(
    blankIsUnset,
    z
      .string()
      .optional()
      .transform((text, ctx): ResolvedFaults | undefined => {
        if (text === undefined) return undefined;
        try {
          const faults = parseFaults(text);
          if (issuerOnly) {
            for (const entry of text.split(',')) {
              const name = entry.split('=')[0]?.trim() ?? '';
              if (name && !ISSUER_KINDS.has(name)) throw new Error(`fault "${name}" does not apply to the issuer (only latency_ms, rate_429, error_5xx, seed)`);
            }
          }
          return faults;
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
  );
}

const MocksEnv = z.object({
  MARKETPLACE_URL: optionalUrl,
  TOKEN_ISSUER_URL: optionalUrl,
  VOICEID_URL: optionalUrl,
  OPENAI_BASE_URL: optionalUrl,
  TOKEN_ISSUER_API_KEY: z.preprocess(blankIsUnset, z.string().default('dev-issuer-key')),
  RECEIPT_SECRET: z.preprocess(blankIsUnset, z.string().default('dev-receipt-secret')),
  VOICEID_ENROLLED: z.preprocess(
    blankIsUnset,
    z
      .string()
      .default('demo-voice')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .refine((list) => list.length > 0, 'must list at least one voice id')
      .refine((list) => list.every((e) => parseEnrolment(e) !== undefined), 'each entry is `voice` or `subject:voice`, neither part empty'),
  ),
  DATA_DIR: z.preprocess(blankIsUnset, z.string().default('./.data')),
  MOCKS_HOST: z.preprocess(blankIsUnset, z.string().default('127.0.0.1')),
  MOCK_FAULTS: faultsVariable(false),
  MOCK_ISSUER_FAULTS: faultsVariable(true),
  MOCK_TLS_CA_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  MOCK_TLS_CERT_FILE: z.preprocess(blankIsUnset, z.string().optional()),
  MOCK_TLS_KEY_FILE: z.preprocess(blankIsUnset, z.string().optional()),
});

/** The settings of `npm run mocks`, read from the environment. */
export interface MocksConfig {
  /** Mocks to serve, with their port (0 = free). */
  serve: Array<{ name: MockName; port: number; configuredUrl?: string }>;
  /** Mocks not served, with why (an https URL points at a real provider). */
  skipped: Array<{ name: MockName; reason: string }>;
  host: string;
  issuerApiKey: string;
  receiptSecret: string;
  voiceEnrolled: string[];
  dataDir: string;
  /** Marketplace faults (`MOCK_FAULTS`). */
  faults?: ResolvedFaults;
  /** Token-issuer faults (`MOCK_ISSUER_FAULTS`: latency_ms, rate_429, error_5xx, seed). */
  issuerFaults?: ResolvedFaults;
  /** Mutual TLS (`MOCK_TLS_CA_FILE`, `MOCK_TLS_CERT_FILE`, `MOCK_TLS_KEY_FILE`): HTTPS, client certificates required. */
  tls?: { caFile: string; certFile: string; keyFile: string };
}

/**
 * Reads and validates the mocks' environment once. Throws an Error whose message names the bad variable.
 * Each mock is served on the port of its URL variable, or on a free port when the variable is unset; a mock
 * whose URL is https is a real provider and is not served.
 */
export function parseMocksEnv(env: NodeJS.ProcessEnv): MocksConfig {
  const parsed = MocksEnv.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || 'environment'}: ${issue.message}`);
    throw new Error(`invalid environment: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const tlsFiles = [e.MOCK_TLS_CA_FILE, e.MOCK_TLS_CERT_FILE, e.MOCK_TLS_KEY_FILE];
  if (tlsFiles.some((f) => f !== undefined) && !tlsFiles.every((f) => f !== undefined)) {
    throw new Error('invalid environment: MOCK_TLS_CA_FILE, MOCK_TLS_CERT_FILE, MOCK_TLS_KEY_FILE: give all three or none');
  }
  const tls = e.MOCK_TLS_CA_FILE && e.MOCK_TLS_CERT_FILE && e.MOCK_TLS_KEY_FILE ? { caFile: e.MOCK_TLS_CA_FILE, certFile: e.MOCK_TLS_CERT_FILE, keyFile: e.MOCK_TLS_KEY_FILE } : undefined;
  const config: MocksConfig = {
    serve: [],
    skipped: [],
    host: e.MOCKS_HOST,
    issuerApiKey: e.TOKEN_ISSUER_API_KEY,
    receiptSecret: e.RECEIPT_SECRET,
    voiceEnrolled: e.VOICEID_ENROLLED,
    dataDir: e.DATA_DIR,
    ...(e.MOCK_FAULTS ? { faults: e.MOCK_FAULTS } : {}),
    ...(e.MOCK_ISSUER_FAULTS ? { issuerFaults: e.MOCK_ISSUER_FAULTS } : {}),
    ...(tls ? { tls } : {}),
  };
  for (const [name, variable] of Object.entries(URL_VARIABLES) as Array<[MockName, string]>) {
    const value = e[variable as keyof typeof e] as string | undefined;
    if (value === undefined) {
      config.serve.push({ name, port: 0 });
      continue;
    }
    const url = new URL(value);
    // An https URL is a real provider, unless the stand-ins serve TLS themselves.
    if (url.protocol === 'https:' && !tls) {
      config.skipped.push({ name, reason: `${variable} is https (a real provider); not served` });
      continue;
    }
    config.serve.push({ name, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80, configuredUrl: value });
  }
  return config;
}
