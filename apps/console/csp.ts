/**
 * The console's Content-Security-Policy: scripts, styles, images and connections from this origin only
 * (no inline script or style, no CDN, no eval); no form may navigate anywhere (the forms are handled by
 * the script, so an API key typed in can never end up in an address); no framing; and markup may reach
 * an HTML sink only through the one Trusted Types policy, `arp-report`, that takes the server's sanitised
 * report (assets/console.js).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types arp-report',
].join('; ');

/** The headers of every console page. */
export const PAGE_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;
