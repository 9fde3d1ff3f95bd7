import { isIPv4, isIPv6 } from 'node:net';

/**
 * One instance nginx may send requests to. Its fields come from the registry,
 * which any process that can reach Redis or etcd may write: they are checked
 * ({@link upstreamProblem}) before they are written into nginx's configuration,
 * where a `;`, a brace or a newline would be configuration, not an address.
 */
export interface Upstream {
  host: string;
  port: number;
}

/** A host name's longest form (RFC 1123 with RFC 1035's limit), without a trailing dot. */
export const MAX_HOSTNAME_LENGTH = 253;

// a label: letters, digits and inner hyphens, 1 to 63 characters (RFC 1123 allows a leading digit)
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Whether `host` is an IPv4 literal, an IPv6 literal (no zone: nginx does not
 * take one) or an RFC 1123 host name. A name whose last label is all digits is
 * refused: it is a mistyped address (`10.0.0.300`), not a name.
 */
export function isUpstreamHost(host: string): boolean {
  if (isIPv4(host)) return true;
  if (isIPv6(host)) return !host.includes('%');
  if (host.length === 0 || host.length > MAX_HOSTNAME_LENGTH) return false;
  const labels = host.split('.');
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]);
}

/** Whether `port` is a TCP port: a number (not a string), whole, 1 to 65535. */
export function isUpstreamPort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535;
}

/** A value as a log line may show it: quoted, escaped, at most 80 characters of it. */
function shown(value: unknown): string {
  if (typeof value !== 'string') return value === undefined ? 'missing' : JSON.stringify(value);
  const cut = value.length > 80 ? `${value.slice(0, 80)}...` : value;
  return JSON.stringify(cut);
}

/** What is wrong with an upstream read from outside, or undefined when nginx may be given it. */
export function upstreamProblem(u: { host?: unknown; port?: unknown }): string | undefined {
  if (typeof u.host !== 'string' || !isUpstreamHost(u.host))
    return `host ${shown(u.host)} is not an IP address or an RFC 1123 host name`;
  if (!isUpstreamPort(u.port)) return `port ${shown(u.port)} is not a whole number from 1 to 65535`;
  return undefined;
}

/** `host:port` as nginx's `server` takes it: an IPv6 address in brackets. */
export function upstreamAddress(u: Upstream): string {
  return isIPv6(u.host) ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`;
}
