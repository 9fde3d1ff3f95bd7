import dns from 'node:dns/promises';
import net from 'node:net';

/**
 * Server-side request forgery guard: a user-supplied URL must not make the
 * service call into its own network. Only http(s); addresses are checked
 * *after* DNS resolution (a public name can point at 127.0.0.1) and the
 * connection is then pinned to the checked address, so a second lookup
 * (DNS rebinding) cannot swap it.
 */
export class ForbiddenTargetError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`refused to fetch ${url}: ${reason}`);
  }
}

const BLOCKED_V4: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'this network'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const BLOCKED_V6: Array<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
  ['64:ff9b::', 96, 'NAT64'],
];

export interface SsrfPolicy {
  /** CIDRs that are allowed even though they are private (e.g. `127.0.0.1/32` in tests). */
  allowCidrs?: string[];
}

function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [address, prefix] = cidr.split('/');
  const v = net.isIP(address);
  if (!v) throw new Error(`not a CIDR: ${cidr}`);
  return {
    address,
    prefix: Number(prefix ?? (v === 4 ? 32 : 128)),
    family: v === 4 ? 'ipv4' : 'ipv6',
  };
}

export class SsrfGuard {
  private readonly blocked = new Map<string, net.BlockList>();
  private readonly allowed = new net.BlockList();

  constructor(policy: SsrfPolicy = {}) {
    for (const [addr, prefix, reason] of BLOCKED_V4)
      this.list(reason).addSubnet(addr, prefix, 'ipv4');
    for (const [addr, prefix, reason] of BLOCKED_V6)
      this.list(reason).addSubnet(addr, prefix, 'ipv6');
    for (const c of policy.allowCidrs ?? []) {
      const { address, prefix, family } = parseCidr(c);
      this.allowed.addSubnet(address, prefix, family);
    }
  }

  private list(reason: string): net.BlockList {
    let l = this.blocked.get(reason);
    if (!l) this.blocked.set(reason, (l = new net.BlockList()));
    return l;
  }

  /** Why an address is refused, or undefined when it may be fetched. */
  refusal(address: string): string | undefined {
    let ip = address;
    let family: 'ipv4' | 'ipv6' = net.isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    // ::ffff:127.0.0.1 is 127.0.0.1
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped) {
      ip = mapped[1];
      family = 'ipv4';
    }
    if (this.allowed.check(ip, family)) return undefined;
    for (const [reason, list] of this.blocked)
      if (list.check(ip, family)) return `${reason} address ${address}`;
    return undefined;
  }

  /** Checks a URL's scheme and every address its host resolves to; returns the address to connect to. */
  async check(rawUrl: string): Promise<{ url: URL; address: string; family: 4 | 6 }> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new ForbiddenTargetError(rawUrl, 'not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ForbiddenTargetError(
        rawUrl,
        `scheme ${url.protocol} is not allowed (only http and https)`,
      );
    }
    if (url.username || url.password)
      throw new ForbiddenTargetError(rawUrl, 'credentials in URLs are not allowed');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: Array<{ address: string; family: number }>;
    if (net.isIP(host)) {
      addresses = [{ address: host, family: net.isIP(host) }];
    } else {
      try {
        addresses = await dns.lookup(host, { all: true, verbatim: true });
      } catch {
        throw new ForbiddenTargetError(rawUrl, `host ${host} does not resolve`);
      }
    }
    // every address must pass: a name with one public and one private address is refused
    for (const a of addresses) {
      const reason = this.refusal(a.address);
      if (reason) throw new ForbiddenTargetError(rawUrl, reason);
    }
    const first = addresses[0];
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
  }
}
