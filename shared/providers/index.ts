import { IssuerClient } from './issuer.ts';
import { MarketplaceClient } from './marketplace.ts';
import { VoiceIdClient } from './voiceid.ts';

export * from './issuer.ts';
export * from './marketplace.ts';
export * from './voiceid.ts';

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
}

export function createProviders(o: ProviderUrls): Providers {
  const strip = (u: string) => u.replace(/\/+$/, '');
  return {
    marketplace: new MarketplaceClient(strip(o.marketplaceUrl), o.timeoutMs),
    issuer: new IssuerClient(strip(o.tokenIssuerUrl), o.issuerApiKey, o.timeoutMs),
    voiceId: new VoiceIdClient(strip(o.voiceIdUrl), o.timeoutMs),
  };
}
