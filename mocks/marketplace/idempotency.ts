/**
 * The marketplace's own idempotency store for `POST /pay`, in memory: an Idempotency-Key maps to the
 * fingerprint of the request it first served and the receipt document it answered. Requests with the same
 * key run one at a time.
 */

/** What is remembered for a key. */
export interface StoredPayment {
  fingerprint: string;
  document: unknown;
}

/** In-memory idempotency store with a per-key lock. */
export class PaymentStore {
  readonly #entries = new Map<string, StoredPayment>();
  readonly #locks = new Map<string, Promise<unknown>>();

  /** The stored payment for a key, if one succeeded. */
  get(key: string): StoredPayment | undefined {
    return this.#entries.get(key);
  }

  /** Remembers a successful payment under its key. */
  set(key: string, entry: StoredPayment): void {
    this.#entries.set(key, entry);
  }

  /** Runs `task` once every earlier task for the same key has finished. */
  async withLock<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }
}
