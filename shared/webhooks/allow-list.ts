import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * WEBHOOK_ALLOWED_HOSTS, read: where webhooks may go. Entries are host names (`hooks.example.com`, exact),
 * name suffixes (`*.example.com`: any name under it, not the name itself), and addresses or networks
 * (`203.0.113.7`, `10.0.0.0/8`, `::1`, `fd00::/8`).
 *
 * A URL's host must be a listed name (or under a listed suffix), or an address inside a listed one. And
 * whatever the name, every address it resolves to must be public — a private, loopback, link-local,
 * shared, multicast or otherwise special address only when it is itself inside an address entry: a
 * listed name that resolves (or is re-pointed) to an internal address is refused at connection time.
 */
export class WebhookAllowList {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly nets: Array<[Address, number]> = [];

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      if (!entry) continue;
      const net = parseNet(entry);
      if (net) this.nets.push(net);
      else if (entry.startsWith('*.')) this.suffixes.push(entry.slice(1));
      else this.names.add(entry.replace(/\.$/, ''));
    }
  }

  /** Nothing listed: webhooks are off. */
  get empty(): boolean {
    return this.names.size === 0 && this.suffixes.length === 0 && this.nets.length === 0;
  }

  /** Whether a URL's host (a name, or an address literal, IPv6 with or without brackets) may be called at all. */
  hostAllowed(host: string): boolean {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const address = parseAddress(h);
    if (address) return this.listedAddress(address);
    return this.names.has(h) || this.suffixes.some((s) => h.endsWith(s) && h.length > s.length);
  }

  /** Whether a connection may be made to this resolved address: public, or inside an address entry. */
  addressAllowed(ip: string): boolean {
    const address = parseAddress(ip);
    if (!address) return false;
    return this.listedAddress(address) || isPublic(address);
  }

  private listedAddress(address: Address): boolean {
    const plain = unmapped(address);
    return this.nets.some(([net, bits]) => plain.kind() === net.kind() && plain.match(net, bits));
  }
}

/** Entry errors for the configuration: each entry that is neither a name, a `*.` suffix, an address nor a network. */
export function allowListProblems(entries: readonly string[]): string[] {
  const problems: string[] = [];
  for (const [i, raw] of entries.entries()) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry.includes('/') ? !parseNet(entry) : !(parseAddress(entry) || /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$/.test(entry))) {
      problems.push(`entry ${i + 1} is not a host name, *.suffix, address or network like 10.0.0.0/8`);
    }
  }
  return problems;
}

function parseAddress(text: string): Address | undefined {
  const t = text.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(t) && (ipaddr.IPv4.isValidFourPartDecimal(t) || t.includes(':')) ? ipaddr.parse(t) : undefined;
}

function parseNet(entry: string): [Address, number] | undefined {
  if (entry.includes('/')) {
    try {
      const [address, bits] = ipaddr.parseCIDR(entry);
      return [unmapped(address), address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? bits - 96 : bits];
    } catch {
      return undefined;
    }
  }
  const address = parseAddress(entry);
  if (!address) return undefined;
  const plain = unmapped(address);
  return [plain, plain.kind() === 'ipv4' ? 32 : 128];
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is the IPv4 address it carries. */
function unmapped(address: Address): Address {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

/**
 * Public unicast only: ipaddr.js names every special-purpose range (RFC 6890 and successors — private,
 * loopback, link-local, carrier-grade NAT, multicast, reserved, documentation, unique-local, the
 * 6to4/Teredo/NAT64 translations that could reach internal IPv4…) and calls the rest `unicast`.
 */
function isPublic(address: Address): boolean {
  return unmapped(address).range() === 'unicast';
}
