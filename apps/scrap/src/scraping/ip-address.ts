import net from 'node:net';

/**
 * IP addresses as numbers (IPv4 in 32 bits, IPv6 in 128), so that a block is a
 * prefix comparison and every spelling of one address compares equal.
 */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** A CIDR block: the first address and the prefix length. */
export interface IpBlock {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

const BITS = { 4: 32, 6: 128 } as const;

/** Dotted-quad IPv4 (four decimal parts, as URLs and resolvers give them) to a number. */
function ipv4Value(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(p));
  }
  return value;
}

/** IPv6 text (with `::`, and a dotted IPv4 tail) to a number; undefined when it is not one. */
function ipv6Value(text: string): bigint | undefined {
  if (net.isIPv6(text) === false) return undefined;
  let groups: string[];
  let rest = text;
  const tail: string[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(rest);
  if (dotted) {
    const v4 = ipv4Value(dotted[2]);
    if (v4 === undefined) return undefined;
    rest = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
    tail.push(((v4 >> 16n) & 0xffffn).toString(16), (v4 & 0xffffn).toString(16));
  }
  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  if (halves.length === 2) {
    const after = [...(halves[1] ? halves[1].split(':') : []), ...tail];
    const missing = 8 - head.length - after.length;
    if (missing < 1) return undefined;
    groups = [...head, ...Array<string>(missing).fill('0'), ...after];
  } else {
    groups = [...head, ...tail];
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  return value;
}

/**
 * Parses an IP literal as it comes from a URL's host (brackets allowed) or a
 * resolver. An IPv6 zone id (`fe80::1%eth0`) is not accepted: an address that
 * needs one is link-local, never a public page.
 */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (bare.includes('%')) return undefined;
  const v4 = ipv4Value(bare);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = ipv6Value(bare);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export function parseBlock(cidr: string): IpBlock {
  const [address, prefixText, extra] = cidr.split('/');
  const ip = parseIp(address);
  if (!ip || extra !== undefined) throw new Error(`not a CIDR block: ${cidr}`);
  const bits = BITS[ip.family];
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits)
    throw new Error(`not a CIDR block: ${cidr}`);
  return { family: ip.family, base: ip.value, prefix };
}

export function inBlock(ip: IpAddress, block: IpBlock): boolean {
  if (ip.family !== block.family) return false;
  const shift = BigInt(BITS[ip.family] - block.prefix);
  return ip.value >> shift === block.base >> shift;
}

/** An IPv4 address in its dotted form. */
export function formatIpv4(ip: IpAddress): string {
  return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
}

/** The IPv4 address held in the last 32 bits of an IPv6 one. */
export function embeddedIpv4(ip: IpAddress): IpAddress {
  return { family: 4, value: ip.value & 0xffffffffn };
}
