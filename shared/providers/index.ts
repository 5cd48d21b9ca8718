import { IssuerClient } from './issuer.ts';
import { providerDispatcher, type ProviderTlsFiles } from './tls.ts';
import { MarketplaceClient } from './marketplace.ts';
import { VoiceIdClient } from './voiceid.ts';

export * from './issuer.ts';
export * from './marketplace.ts';
export * from './voiceid.ts';
export type { ProviderTlsFiles } from './tls.ts';

/** The three providers the pipeline calls. */
export interface Providers {
  marketplace: MarketplaceClient;
  issuer: IssuerClient;
  voiceId: VoiceIdClient;
}

export interface ProviderUrls {
  marketplaceUrl: string;
  tokenIssuerUrl: string;
  voiceIdUrl: string;
  issuerApiKey: string;
  timeoutMs: number;
  /** Mutual TLS to the providers (PROVIDER_CA_FILE, PROVIDER_CERT_FILE, PROVIDER_KEY_FILE). */
  tls?: ProviderTlsFiles;
}

export function createProviders(o: ProviderUrls): Providers {
  const strip = (u: string) => u.replace(/\/+$/, '');
  const dispatcher = providerDispatcher(o.tls ?? {});
  return {
    marketplace: new MarketplaceClient(strip(o.marketplaceUrl), o.timeoutMs, dispatcher),
    issuer: new IssuerClient(strip(o.tokenIssuerUrl), o.issuerApiKey, o.timeoutMs, dispatcher),
    voiceId: new VoiceIdClient(strip(o.voiceIdUrl), o.timeoutMs, dispatcher),
  };
}
