import { createHmac, timingSafeEqual } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { WebhookAllowList } from './allow-list.ts';

/**
 * `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The time is inside what is
 * signed, so a receiver that refuses old times (five minutes, say) cannot be fed a recorded delivery.
 */
export function signature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * A receiver's check (and ours, in tests): the header parses, its time is within `toleranceSeconds` of
 * `now`, and one of its `v1` signatures is the body's under `secret` (compared in constant time).
 */
export function verifySignature(secret: string, header: string | undefined, body: string, opts: { toleranceSeconds?: number; now?: number } = {}): boolean {
  if (!header) return false;
  const parts = header.split(',').map((p) => p.trim().split('='));
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isSafeInteger(t)) return false;
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signature(secret, body, t).split('v1=')[1]!, 'hex');
  return parts.some(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected));
}

/** Why a webhook URL may not be called, or undefined when it may (its host, before any name is resolved). */
export function urlRefusal(raw: string, allow: WebhookAllowList): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http or https URL';
  if (url.username || url.password) return 'must not carry credentials';
  if (allow.empty) return 'cannot be used: webhooks are off (WEBHOOK_ALLOWED_HOSTS lists no host)';
  if (!allow.hostAllowed(url.hostname)) return `host ${url.hostname} is not in WEBHOOK_ALLOWED_HOSTS`;
  return undefined;
}

/** A webhook URL as logs and errors may show it: its origin and path, never its query (it may hold a token). */
export function safeUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/** A connection refused because of where it would go: not worth trying again. */
export class AddressRefused extends Error {
  readonly code = 'webhook_address_refused';
}

/**
 * The name resolution every webhook connection goes through: each address the name resolves to must be
 * allowed (public, or listed), else the connection is not made. The check is on the address the socket
 * then connects to — not on a first look-up that a re-pointed name (DNS rebinding) could answer
 * differently the second time.
 */
export function guardedLookup(allow: WebhookAllowList, resolve: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, found: LookupAddress[] | string) => {
      if (err) return callback(err, '', 0);
      const addresses = (Array.isArray(found) ? found : [{ address: found, family: isIP(found) }]) as LookupAddress[];
      const refused = addresses.find((a) => !allow.addressAllowed(a.address));
      if (refused || addresses.length === 0) {
        const error = new AddressRefused(`${hostname} resolves to ${refused?.address ?? 'nothing'}, which is not a public address nor listed in WEBHOOK_ALLOWED_HOSTS`);
        return callback(error as NodeJS.ErrnoException, '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** What one POST came to. */
export interface SendResult {
  status: number | null;
  error: string | null;
  /** The address was refused: no retry can change that. */
  refused: boolean;
  durationMs: number;
}

/**
 * Sends webhook POSTs: only to allowed hosts, connecting only to allowed addresses (guardedLookup; an
 * address literal is checked before any connection), following no redirect, reading at most a little of
 * the answer, within `timeoutMs`.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(
    private readonly allow: WebhookAllowList,
    private readonly timeoutMs: number,
    resolve?: typeof dnsLookup,
  ) {
    this.agent = new Agent({ connect: { lookup: guardedLookup(allow, resolve), timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connections: 16 });
  }

  async post(rawUrl: string, body: string, headers: Record<string, string>): Promise<SendResult> {
    const started = performance.now();
    const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({ ...r, durationMs: performance.now() - started });
    const refusal = urlRefusal(rawUrl, this.allow);
    if (refusal) return done({ status: null, error: `the webhook URL ${refusal}`, refused: true });
    const url = new URL(rawUrl);
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal) && !this.allow.addressAllowed(literal)) {
      return done({ status: null, error: `${literal} is not a public address nor listed in WEBHOOK_ALLOWED_HOSTS`, refused: true });
    }
    try {
      const res = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'user-agent': 'agent-research-pay-webhooks/1', ...headers },
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // The answer is not ours to read beyond its status; drain a little so the connection is reusable.
      await res.body.dump({ limit: 16 * 1024 }).catch(() => undefined);
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return done({ status: res.statusCode, error: ok ? null : `the receiver answered ${res.statusCode}`, refused: false });
    } catch (err) {
      const refused = findRefusal(err);
      if (refused) return done({ status: null, error: refused.message, refused: true });
      const e = err as Error & { code?: string };
      return done({ status: null, error: `not reached: ${e.code ?? e.name}${e.message ? ` (${e.message.replaceAll(rawUrl, safeUrl(rawUrl))})` : ''}`, refused: false });
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

function findRefusal(err: unknown): AddressRefused | undefined {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof AddressRefused) return e;
  }
  return undefined;
}
