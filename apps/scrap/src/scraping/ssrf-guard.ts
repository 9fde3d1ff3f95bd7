import { ForbiddenTargetError } from './fetch-errors';
import {
  embeddedIpv4,
  formatIpv4,
  inBlock,
  IpAddress,
  IpBlock,
  parseBlock,
  parseIp,
} from './ip-address';
import { dnsResolver, ResolvedAddress, ResolveHost } from './resolve-host';

export { FetchFailedError, ForbiddenTargetError } from './fetch-errors';

/**
 * Server-side request forgery guard: a user-supplied URL must not make the
 * service call into its own network. Only http(s), and only destinations that
 * are public by rule rather than "not on a list of private ranges":
 *
 * - IPv4: any address outside the IANA IPv4 special-purpose registry and the
 *   multicast, reserved and broadcast space.
 * - IPv6: global unicast (2000::/3) only, and none of the registry's blocks
 *   inside it. Two forms that carry an IPv4 address are judged by that address:
 *   IPv4-mapped (::ffff:a.b.c.d, connected to as the IPv4 itself) and the
 *   well-known NAT64 prefix 64:ff9b::/96 (a DNS64 network's way to reach an
 *   IPv4-only site; the translator forwards to the embedded address).
 *
 * Addresses are checked *after* DNS resolution (a public name can point at
 * 127.0.0.1), every one of them, and the connection is then made to a checked
 * address (see safe-fetch), so a second lookup (DNS rebinding) cannot swap it.
 */

/** Special-purpose IPv4 blocks (IANA registry, plus multicast, 240/4 and broadcast). */
const IPV4_BLOCKS: Array<[string, string]> = [
  ['0.0.0.0/8', 'this network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared address space (carrier-grade NAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1)'],
  ['192.31.196.0/24', 'AS112 DNS sink'],
  ['192.52.193.0/24', 'AMT relay'],
  ['192.88.99.0/24', '6to4 relay anycast (deprecated)'],
  ['192.168.0.0/16', 'private'],
  ['192.175.48.0/24', 'AS112 DNS sink (direct delegation)'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'limited broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

/**
 * Special-purpose IPv6 blocks, named so that a refusal says which one. Most lie
 * outside 2000::/3 and would be refused by the allow rule anyway; those inside
 * it (2001::/23, 2001:db8::/32, 2002::/16, 2620:4f:8000::/48, 3fff::/20) are
 * the reason the rule alone is not enough.
 */
const IPV6_BLOCKS: Array<[string, string]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible (deprecated)'],
  ['::ffff:0:0:0/96', 'IPv4-translated'],
  ['64:ff9b:1::/48', 'NAT64 local use'],
  ['100::/64', 'discard-only'],
  ['2001::/32', 'Teredo'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:3::/32', 'AMT'],
  ['2001:4:112::/48', 'AS112 DNS sink'],
  ['2001:10::/28', 'ORCHID (deprecated)'],
  ['2001:20::/28', 'ORCHIDv2'],
  ['2001:30::/28', 'drone remote ID'],
  ['2001::/23', 'IETF protocol assignments'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['2620:4f:8000::/48', 'AS112 DNS sink (direct delegation)'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'segment routing (SRv6)'],
  ['fc00::/7', 'unique local (private)'],
  ['fec0::/10', 'site-local (deprecated)'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

const GLOBAL_UNICAST = parseBlock('2000::/3');
const IPV4_MAPPED = parseBlock('::ffff:0:0/96');
const NAT64_WELL_KNOWN = parseBlock('64:ff9b::/96');

const named = (table: Array<[string, string]>) =>
  table.map(([cidr, name]) => ({ block: parseBlock(cidr), name }));
const V4 = named(IPV4_BLOCKS);
const V6 = named(IPV6_BLOCKS);

/** What the guard thinks of one address. */
export type Verdict = { allowed: true; connect: ResolvedAddress } | { allowed: false; why: string };

export interface SsrfPolicy {
  /** CIDRs allowed even though they are special (e.g. `127.0.0.1/32` for a local demo page). */
  allowCidrs?: string[];
  /** How host names are resolved; default: DNS on the system's servers. */
  resolve?: ResolveHost;
}

/** A URL whose every address passed, with the addresses to connect to. */
export interface CheckedTarget {
  url: URL;
  addresses: ResolvedAddress[];
}

/** Public message of every address refusal: which block it was goes to the log only. */
const NOT_PUBLIC = "the URL's host is not a public address";

/** `localhost` and its subdomains are loopback by definition (RFC 6761), whatever DNS says. */
const LOOPBACK_NAME = /(^|\.)localhost\.?$/i;

export class SsrfGuard {
  private readonly allowed: IpBlock[];
  private readonly resolve: ResolveHost;

  constructor(policy: SsrfPolicy = {}) {
    this.allowed = (policy.allowCidrs ?? []).map(parseBlock);
    this.resolve = policy.resolve ?? dnsResolver();
  }

  /** Whether an address may be fetched, and the address to connect to when it may. */
  verdict(address: string): Verdict {
    const bare = address.replace(/^\[|\]$/g, '');
    const ip = parseIp(bare);
    if (!ip) return { allowed: false, why: 'not an IP address' };
    const as6: Verdict = { allowed: true, connect: { address: bare, family: 6 } };
    if (this.allowed.some((b) => inBlock(ip, b))) return ip.family === 4 ? this.asIpv4(ip) : as6;
    if (ip.family === 4) return this.ipv4Verdict(ip);
    // judged, and connected to, as the IPv4 address it is
    if (inBlock(ip, IPV4_MAPPED)) return this.ipv4Verdict(embeddedIpv4(ip), 'IPv4-mapped ');
    if (inBlock(ip, NAT64_WELL_KNOWN)) {
      const inner = this.ipv4Verdict(embeddedIpv4(ip), 'NAT64 of ');
      return inner.allowed ? as6 : inner;
    }
    const special = V6.find((b) => inBlock(ip, b.block));
    if (special) return { allowed: false, why: special.name };
    if (!inBlock(ip, GLOBAL_UNICAST)) return { allowed: false, why: 'not global unicast' };
    return as6;
  }

  private asIpv4(ip: IpAddress): Verdict {
    return { allowed: true, connect: { address: formatIpv4(ip), family: 4 } };
  }

  private ipv4Verdict(ip: IpAddress, prefix = ''): Verdict {
    if (prefix && this.allowed.some((b) => inBlock(ip, b))) return this.asIpv4(ip);
    const special = V4.find((b) => inBlock(ip, b.block));
    if (special) return { allowed: false, why: `${prefix}${special.name}` };
    return this.asIpv4(ip);
  }

  /**
   * Checks a URL's scheme and every address its host resolves to, by the
   * deadline; returns the addresses to connect to. Rejects with
   * ForbiddenTargetError (the URL is refused) or FetchFailedError (`dns_failed`,
   * `timeout`).
   */
  async check(rawUrl: string, deadline = Date.now() + 5_000): Promise<CheckedTarget> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new ForbiddenTargetError('invalid_url', 'not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ForbiddenTargetError(
        'scheme_not_allowed',
        `scheme ${url.protocol} is not allowed (only http and https)`,
      );
    }
    if (url.username || url.password)
      throw new ForbiddenTargetError('credentials_in_url', 'credentials in URLs are not allowed');
    // WHATWG parsing has already turned 2130706433, 0177.0.0.1, 0x7f.1 and 127.1 into
    // 127.0.0.1, and refused zone ids in brackets; what is left is a dotted quad, a
    // bracketed IPv6 literal or a name
    const host = url.hostname;
    const literal = parseIp(host);
    let addresses: ResolvedAddress[];
    if (literal) {
      addresses = [{ address: host.replace(/^\[|\]$/g, ''), family: literal.family }];
    } else if (LOOPBACK_NAME.test(host)) {
      throw new ForbiddenTargetError('blocked_address', NOT_PUBLIC, `${host}: loopback name`);
    } else {
      addresses = await this.resolve(host, deadline);
    }
    // every address must pass: a name with one public and one private address is refused
    const connect: ResolvedAddress[] = [];
    for (const a of addresses) {
      const v = this.verdict(a.address);
      if (!v.allowed)
        throw new ForbiddenTargetError(
          'blocked_address',
          NOT_PUBLIC,
          `${host}${literal ? '' : ` resolves to ${a.address}`}: ${v.why}`,
        );
      connect.push(v.connect);
    }
    return { url, addresses: connect };
  }
}
