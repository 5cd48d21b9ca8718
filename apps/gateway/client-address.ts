import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';
import type { ProxyNet } from '../../shared/config.ts';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`; anything else as it is. */
function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/**
 * Where requests come from, for counting failed sign-ins per client. The address is the socket's;
 * only when that peer is a configured trusted proxy (TRUSTED_PROXIES) is X-Forwarded-For read, from
 * the right: the first address that is not a trusted proxy is the client. Anyone can write that header,
 * so from an untrusted peer it is ignored.
 */
export class ClientAddresses {
  private readonly trusted = new BlockList();
  private readonly any: boolean;

  constructor(proxies: readonly ProxyNet[] = []) {
    for (const p of proxies) this.trusted.addSubnet(p.address, p.prefix, p.family);
    this.any = proxies.length > 0;
  }

  /** Whether an address is one of the trusted proxies. */
  isTrusted(address: string): boolean {
    const version = isIP(address);
    return this.any && version !== 0 && this.trusted.check(address, version === 6 ? 'ipv6' : 'ipv4');
  }

  /** The socket's peer address, or undefined when there is no socket (an in-process request). */
  peer(c: Context): string | undefined {
    const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
    const address = env?.incoming?.socket?.remoteAddress;
    return address ? plain(address) : undefined;
  }

  /** The client's address: the socket's, or what a trusted proxy says it is. */
  of(c: Context): string | undefined {
    let client = this.peer(c);
    if (!client || !this.isTrusted(client)) return client;
    const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((s) => plain(s.trim()));
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (!isIP(hop)) break; // garbage: keep the last hop we could believe
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }

  /**
   * The bucket failed sign-ins are counted in: the address, or for IPv6 its /64 network (one host
   * usually holds a whole /64, so counting single IPv6 addresses would count nothing).
   */
  bucket(c: Context): string | undefined {
    const address = this.of(c);
    if (!address || isIP(address) !== 6) return address;
    const [head = '', tail = ''] = address.split('::');
    const left = head ? head.split(':') : [];
    const right = tail ? tail.split(':') : [];
    const width = (gs: string[]) => gs.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0); // an embedded IPv4 is two groups
    const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - width(left) - width(right))).fill('0'), ...right] : left;
    return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
  }
}
