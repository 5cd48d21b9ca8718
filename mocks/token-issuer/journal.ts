import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';

/** A token as recorded when it was created. Amounts are integer fen. */
export interface TokenRecord {
  id: string;
  limitFen: number;
  currency: string;
  merchantId: string;
  reference: string;
  expiresAt: string;
  createdAt: string;
  voiceVerification?: unknown;
}

/** A charge as recorded when it was created. */
export interface ChargeRecord {
  id: string;
  tokenId: string;
  amountFen: number;
  merchantId: string;
  description: string | null;
  idempotencyKey: string;
  fingerprint: string;
  createdAt: string;
}

/** A refund as recorded when it was created. */
export interface RefundRecord {
  id: string;
  chargeId: string;
  amountFen: number;
  createdAt: string;
  idempotencyKey?: string;
  fingerprint?: string;
}

/** One line of the journal: every change to the issuer's books. */
export type JournalEvent =
  | { v: 1; type: 'token_created'; token: TokenRecord; idempotencyKey?: string; fingerprint?: string }
  | { v: 1; type: 'charge_created'; charge: ChargeRecord }
  | { v: 1; type: 'refund_created'; refund: RefundRecord }
  | { v: 1; type: 'token_closed'; tokenId: string; closedAt: string };

/** Where the issuer's books are written; the in-memory variant keeps nothing. */
export interface Journal {
  /** Events recorded so far (read once when the journal is opened). */
  readonly initial: readonly JournalEvent[];
  /** Records an event durably before the caller applies it. */
  append(event: JournalEvent): void;
}

/** A journal that keeps nothing (books live as long as the process). */
export function memoryJournal(): Journal {
  return { initial: [], append: () => {} };
}

/**
 * Opens an append-only JSONL journal, creating its directory. Lines are written with appendFileSync, so an
 * answer sent after a write survives a kill -9. A torn last line (a write cut short) is dropped on open.
 */
export function fileJournal(path: string): Journal {
  mkdirSync(dirname(path), { recursive: true });
  const events: JournalEvent[] = [];
  if (existsSync(path)) {
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n');
    let goodBytes = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      const isLast = i === lines.length - 1;
      if (line.trim() !== '') {
        try {
          events.push(JSON.parse(line) as JournalEvent);
        } catch (err) {
          if (!isLast) throw new Error(`token-issuer journal ${path}: line ${i + 1} is corrupt: ${(err as Error).message}`);
          truncateSync(path, goodBytes); // a torn final write: drop it
          break;
        }
        if (isLast) appendFileSync(path, '\n'); // complete line without its newline: finish it
      }
      goodBytes += Buffer.byteLength(line) + 1;
    }
  }
  return {
    initial: events,
    append(event) {
      appendFileSync(path, `${JSON.stringify(event)}\n`);
    },
  };
}
