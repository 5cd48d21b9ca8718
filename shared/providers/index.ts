import { IssuerClient } from './issuer.ts';
import { providerPools, type ProviderTlsFiles } from './tls.ts';
import { MarketplaceClient } from './marketplace.ts';
import { VoiceIdClient } from './voiceid.ts';

export * from './issuer.ts';
export * from './marketplace.ts';
export * from './voiceid.ts';
export { DEFAULT_PROVIDER_CONNECTIONS, providerPools, type ProviderTlsFiles } from './tls.ts';

/** The three providers the pipeline calls. */
export interface Providers {
  marketplace: MarketplaceClient;
  issuer: IssuerClient;
  voiceId: VoiceIdClient;
  /**
   * Closes the connection pools, at shutdown once the workers have stopped. A call still in flight then
   * belongs to a job the shutdown gave up on, whose retry settles it (with its idempotency key): it is
   * cut, not waited for.
   */
  close(): Promise<void>;
}

export interface ProviderUrls {
  marketplaceUrl: string;
  tokenIssuerUrl: string;
  voiceIdUrl: string;
  issuerApiKey: string;
  timeoutMs: number;
  /** Mutual TLS to the providers (PROVIDER_CA_FILE, PROVIDER_CERT_FILE, PROVIDER_KEY_FILE). */
  tls?: ProviderTlsFiles;
  /** Connections kept open per provider (DEFAULT_PROVIDER_CONNECTIONS when absent). */
  connections?: number;
}

export function createProviders(o: ProviderUrls): Providers {
  const strip = (u: string) => u.replace(/\/+$/, '');
  const pools = providerPools(o.tls ?? {}, o.connections);
  return {
    marketplace: new MarketplaceClient(strip(o.marketplaceUrl), o.timeoutMs, pools),
    issuer: new IssuerClient(strip(o.tokenIssuerUrl), o.issuerApiKey, o.timeoutMs, pools),
    voiceId: new VoiceIdClient(strip(o.voiceIdUrl), o.timeoutMs, pools),
    close: () => pools.destroy(),
  };
}
