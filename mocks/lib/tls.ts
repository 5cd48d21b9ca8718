import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { Agent, type Dispatcher } from 'undici';

/**
 * TLS for the stand-ins (`MOCK_TLS_CA_FILE`, `MOCK_TLS_CERT_FILE`, `MOCK_TLS_KEY_FILE`): each serves HTTPS
 * with `cert`/`key` and, like a provider that requires mutual TLS, refuses a client whose certificate
 * is not signed by `ca`.
 */
export interface MockTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export function readMockTls(files: { caFile: string; certFile: string; keyFile: string }): MockTls {
  const read = (variable: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  };
  return { ca: read('MOCK_TLS_CA_FILE', files.caFile), cert: read('MOCK_TLS_CERT_FILE', files.certFile), key: read('MOCK_TLS_KEY_FILE', files.keyFile) };
}

/** HTTPS server options that require a client certificate signed by the CA. */
export function mutualTlsServerOptions(tls: MockTls): ServerOptions {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true };
}

/** The pool a stand-in calls another one through (the marketplace charging the issuer) with its certificate. */
export function mutualTlsClient(tls: MockTls): Dispatcher {
  return new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key } });
}
