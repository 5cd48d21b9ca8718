import type { Dispatcher } from 'undici';
import type { FaultInjector } from '../faults.ts';
import type { PaymentStore } from './idempotency.ts';

/** What the marketplace routes share: configuration, clock, fault injector and idempotency store. */
export interface MarketplaceDeps {
  readonly issuerUrl: string;
  readonly issuerApiKey: string;
  readonly issuerDispatcher?: Dispatcher;
  readonly receiptSecret: string;
  readonly faults: FaultInjector;
  /** Current time in ms since the epoch. */
  readonly now: () => number;
  readonly payments: PaymentStore;
}
