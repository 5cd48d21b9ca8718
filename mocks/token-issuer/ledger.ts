import { randomBytes } from 'node:crypto';
import { formatAmount } from '../lib/money.ts';
import { IssuerError } from './errors.ts';
import type { ChargeRecord, Journal, JournalEvent, RefundRecord, TokenRecord } from './journal.ts';

/** A token's lifecycle state; `expired` is derived from the clock. */
export type TokenStatus = 'active' | 'closed' | 'expired';

/** A charge with what has been refunded of it. */
export interface ChargeState extends ChargeRecord {
  refundedFen: number;
  refunds: RefundRecord[];
}

/** A token with its charges. `spentFen` is charged minus refunded. */
export interface TokenState extends TokenRecord {
  spentFen: number;
  closedAt: string | null;
  charges: ChargeState[];
}

/** What creating a token needs. */
export interface NewToken {
  limitFen: number;
  currency: string;
  merchantId: string;
  reference: string;
  expiresInSeconds: number;
  voiceVerification?: unknown;
}

/** What a charge needs. */
export interface NewCharge {
  amountFen: number;
  merchantId: string;
  description: string | null;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

/**
 * The issuer's books, rebuilt from the journal on start and changed only through journaled events.
 * Every mutation checks, journals and applies within one synchronous section (no await), so concurrent
 * requests are serialized by the event loop: two charges can never both see the same balance.
 */
export class Ledger {
  readonly #tokens = new Map<string, TokenState>();
  /** The tokens of each reference, oldest first: an audit's look-up is not a walk over every token. */
  readonly #byReference = new Map<string, TokenState[]>();
  readonly #charges = new Map<string, ChargeState>();
  /** Token-creation idempotency: key → token id and request fingerprint. */
  readonly #tokenKeys = new Map<string, { tokenId: string; fingerprint: string }>();
  /** Charge idempotency, scoped per token: `${tokenId}\n${key}` → charge. */
  readonly #chargeKeys = new Map<string, ChargeState>();
  /** Refund idempotency, scoped per charge: `${chargeId}\n${key}` → refund. */
  readonly #refundKeys = new Map<string, RefundRecord>();
  readonly #journal: Journal;
  readonly #now: () => number;

  constructor(journal: Journal, now: () => number) {
    this.#journal = journal;
    this.#now = now;
    for (const event of journal.initial) this.#apply(event);
  }

  /** The status of a token at the current time. */
  statusOf(token: TokenState): TokenStatus {
    if (token.closedAt !== null) return 'closed';
    return this.#now() > Date.parse(token.expiresAt) ? 'expired' : 'active';
  }

  /** What the token can still be charged: limit − spent while active, else 0. */
  balanceOf(token: TokenState): number {
    return this.statusOf(token) === 'active' ? token.limitFen - token.spentFen : 0;
  }

  /** A token by id; throws 404 `not_found`. */
  getToken(id: string): TokenState {
    const token = this.#tokens.get(id);
    if (!token) throw new IssuerError(404, 'not_found', `no token "${id}"`);
    return token;
  }

  /** All tokens, or those with this reference, oldest first. */
  listTokens(reference?: string): TokenState[] {
    if (reference === undefined) return [...this.#tokens.values()];
    return [...(this.#byReference.get(reference) ?? [])];
  }

  /** Creates a token; with an idempotency key already used, replays its token (or 422 on another body). */
  createToken(input: NewToken, idempotency?: { key: string; fingerprint: string }): { token: TokenState; replayed: boolean } {
    if (idempotency) {
      const seen = this.#tokenKeys.get(idempotency.key);
      if (seen) {
        if (seen.fingerprint !== idempotency.fingerprint) {
          throw new IssuerError(422, 'idempotency_conflict', 'this Idempotency-Key was already used with another request body');
        }
        return { token: this.getToken(seen.tokenId), replayed: true };
      }
    }
    const now = this.#now();
    const token: TokenRecord = {
      id: newId('tok'),
      limitFen: input.limitFen,
      currency: input.currency,
      merchantId: input.merchantId,
      reference: input.reference,
      expiresAt: new Date(now + input.expiresInSeconds * 1000).toISOString(),
      createdAt: new Date(now).toISOString(),
      ...(input.voiceVerification !== undefined ? { voiceVerification: input.voiceVerification } : {}),
    };
    this.#record({
      v: 1,
      type: 'token_created',
      token,
      ...(idempotency ? { idempotencyKey: idempotency.key, fingerprint: idempotency.fingerprint } : {}),
    });
    return { token: this.getToken(token.id), replayed: false };
  }

  /**
   * Charges a token. The same key with the same body replays the charge; another body is 422. Only a created
   * charge binds its key, so a declined attempt leaves the key free.
   */
  charge(tokenId: string, input: NewCharge, key: string, fingerprint: string): { charge: ChargeState; replayed: boolean } {
    const token = this.getToken(tokenId);
    const seen = this.#chargeKeys.get(`${tokenId}\n${key}`);
    if (seen) {
      if (seen.fingerprint !== fingerprint) {
        throw new IssuerError(422, 'idempotency_conflict', 'this Idempotency-Key was already used on this token with another request body');
      }
      return { charge: seen, replayed: true };
    }
    if (input.merchantId !== token.merchantId) {
      throw new IssuerError(403, 'merchant_mismatch', `token ${tokenId} is bound to another merchant`);
    }
    const status = this.statusOf(token);
    if (status === 'closed') throw new IssuerError(409, 'token_closed', `token ${tokenId} is closed`);
    if (status === 'expired') throw new IssuerError(409, 'token_expired', `token ${tokenId} expired at ${token.expiresAt}`);
    const balance = this.balanceOf(token);
    if (input.amountFen > balance) {
      throw new IssuerError(402, 'insufficient_funds', `charge of ${formatAmount(input.amountFen)} exceeds the balance of ${formatAmount(balance)}`);
    }
    const charge: ChargeRecord = {
      id: newId('ch'),
      tokenId,
      amountFen: input.amountFen,
      merchantId: input.merchantId,
      description: input.description,
      idempotencyKey: key,
      fingerprint,
      createdAt: new Date(this.#now()).toISOString(),
    };
    this.#record({ v: 1, type: 'charge_created', charge });
    return { charge: this.#charges.get(charge.id) as ChargeState, replayed: false };
  }

  /** Refunds part or (amount null) all of what is left of a charge; allowed after the token is closed. */
  refund(chargeId: string, amountFen: number | null, idempotency?: { key: string; fingerprint: string }): { refund: RefundRecord; replayed: boolean } {
    const charge = this.#charges.get(chargeId);
    if (!charge) throw new IssuerError(404, 'not_found', `no charge "${chargeId}"`);
    if (idempotency) {
      const seen = this.#refundKeys.get(`${chargeId}\n${idempotency.key}`);
      if (seen) {
        if (seen.fingerprint !== idempotency.fingerprint) {
          throw new IssuerError(422, 'idempotency_conflict', 'this Idempotency-Key was already used on this charge with another request body');
        }
        return { refund: seen, replayed: true };
      }
    }
    const left = charge.amountFen - charge.refundedFen;
    const amount = amountFen ?? left;
    if (amount <= 0 || amount > left) {
      throw new IssuerError(422, 'refund_exceeds_charge', `refund of ${formatAmount(amount)} exceeds the ${formatAmount(left)} left of charge ${chargeId}`);
    }
    const refund: RefundRecord = {
      id: newId('re'),
      chargeId,
      amountFen: amount,
      createdAt: new Date(this.#now()).toISOString(),
      ...(idempotency ? { idempotencyKey: idempotency.key, fingerprint: idempotency.fingerprint } : {}),
    };
    this.#record({ v: 1, type: 'refund_created', refund });
    return { refund, replayed: false };
  }

  /** Closes a token (idempotent); what is left of its authorization is released. */
  close(tokenId: string): TokenState {
    const token = this.getToken(tokenId);
    if (token.closedAt === null) {
      this.#record({ v: 1, type: 'token_closed', tokenId, closedAt: new Date(this.#now()).toISOString() });
    }
    return token;
  }

  /** Journals an event, then applies it; a failed write changes nothing. */
  #record(event: JournalEvent): void {
    this.#journal.append(event);
    this.#apply(event);
  }

  #apply(event: JournalEvent): void {
    switch (event.type) {
      case 'token_created': {
        const token: TokenState = { ...event.token, spentFen: 0, closedAt: null, charges: [] };
        this.#tokens.set(token.id, token);
        const same = this.#byReference.get(token.reference);
        if (same) same.push(token);
        else this.#byReference.set(token.reference, [token]);
        if (event.idempotencyKey && event.fingerprint) {
          this.#tokenKeys.set(event.idempotencyKey, { tokenId: event.token.id, fingerprint: event.fingerprint });
        }
        return;
      }
      case 'charge_created': {
        const token = this.getToken(event.charge.tokenId);
        const charge: ChargeState = { ...event.charge, refundedFen: 0, refunds: [] };
        token.charges.push(charge);
        token.spentFen += charge.amountFen;
        this.#charges.set(charge.id, charge);
        this.#chargeKeys.set(`${charge.tokenId}\n${charge.idempotencyKey}`, charge);
        return;
      }
      case 'refund_created': {
        const charge = this.#charges.get(event.refund.chargeId);
        if (!charge) throw new Error(`journal: refund for unknown charge ${event.refund.chargeId}`);
        charge.refundedFen += event.refund.amountFen;
        charge.refunds.push(event.refund);
        this.getToken(charge.tokenId).spentFen -= event.refund.amountFen;
        if (event.refund.idempotencyKey) this.#refundKeys.set(`${charge.id}\n${event.refund.idempotencyKey}`, event.refund);
        return;
      }
      case 'token_closed': {
        this.getToken(event.tokenId).closedAt = event.closedAt;
        return;
      }
    }
  }
}
