import http from 'node:http';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { FetchFailedError, ForbiddenTargetError } from './fetch-errors';
import { embeddedIpv4, inBlock, IpAddress, parseBlock, parseIp } from './ip-address';
import type { ResolvedAddress } from './resolve-host';
import type { CheckedTarget, SsrfGuard } from './ssrf-guard';

export { FetchFailedError } from './fetch-errors';

export interface FetchLimits {
  /** Largest body read, in bytes; past it the fetch fails. */
  maxBytes: number;
  /** Whole fetch, name resolution and redirects included. */
  timeoutMs: number;
  maxRedirects: number;
}

export interface FetchedPage {
  /** The URL finally fetched, after redirects. */
  url: string;
  status: number;
  contentType: string;
  body: string;
}

/**
 * Fetches a page under the SSRF guard and hard limits: every hop (the first URL
 * and each redirect) is checked, every address its name resolves to included,
 * and connected to an address that was checked; the socket's peer is checked
 * again once connected. Size, time (DNS included) and redirect count are
 * bounded.
 *
 * Rejects with ForbiddenTargetError when the first URL is refused, and with
 * FetchFailedError for everything after it: a redirect into a refused address
 * is `blocked_address`, to a URL that is no http(s) URL `bad_redirect`. Error
 * messages never hold an address the service resolved or connected to.
 */
export async function safeFetch(
  start: string | CheckedTarget,
  guard: SsrfGuard,
  limits: FetchLimits,
  deadline = Date.now() + limits.timeoutMs,
): Promise<FetchedPage> {
  let target = typeof start === 'string' ? await guard.check(start, deadline) : start;
  for (let hop = 0; ; hop++) {
    const res = await requestOnce(target, deadline, limits.maxBytes);
    if (!(res.status >= 300 && res.status < 400 && res.location)) {
      return {
        url: target.url.toString(),
        status: res.status,
        contentType: res.contentType,
        body: res.body,
      };
    }
    if (hop >= limits.maxRedirects)
      throw new FetchFailedError(
        'bad_redirect',
        `more than ${limits.maxRedirects} redirects (a redirect loop?)`,
      );
    target = await checkRedirect(redirectTarget(res.location, target.url), guard, deadline);
  }
}

/** Where a redirect leads; a Location that is no URL is the page's fault, not the caller's. */
function redirectTarget(location: string, base: URL): string {
  try {
    return new URL(location, base).toString();
  } catch {
    const shown = location.length > 100 ? `${location.slice(0, 100)}...` : location;
    throw new FetchFailedError(
      'bad_redirect',
      `the page redirected to an invalid URL (Location: ${shown})`,
    );
  }
}

/** A redirect's target goes through the guard like the first URL; its refusal is the page's doing. */
async function checkRedirect(
  next: string,
  guard: SsrfGuard,
  deadline: number,
): Promise<CheckedTarget> {
  try {
    return await guard.check(next, deadline);
  } catch (err) {
    if (!(err instanceof ForbiddenTargetError)) throw err;
    if (err.reason === 'blocked_address')
      throw new FetchFailedError(
        'blocked_address',
        'the page redirected to a host that is not a public address',
        `redirect: ${err.detail}`,
      );
    throw new FetchFailedError(
      'bad_redirect',
      `the page redirected to a refused URL: ${err.message}`,
    );
  }
}

const IPV4_MAPPED = parseBlock('::ffff:0:0/96');

/** One address however the socket spells it (`::ffff:1.2.3.4` is `1.2.3.4`). */
function canonical(address: string | undefined): IpAddress | undefined {
  const ip = address ? parseIp(address) : undefined;
  return ip && ip.family === 6 && inBlock(ip, IPV4_MAPPED) ? embeddedIpv4(ip) : ip;
}

function isApproved(remote: string | undefined, approved: ResolvedAddress[]): boolean {
  const r = canonical(remote);
  if (!r) return false;
  return approved.some((a) => {
    const c = canonical(a.address);
    return c !== undefined && c.family === r.family && c.value === r.value;
  });
}

/** Connects to the checked addresses only: no second DNS lookup between check and connect. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_host, opts, cb) => {
    if (opts.all) {
      (cb as unknown as (e: null, a: ResolvedAddress[]) => void)(null, addresses);
    } else cb(null, addresses[0].address, addresses[0].family);
  };
}

/** A connection error in general terms; the code and Node's message (which names the address) go to `detail`. */
function connectionFailure(err: Error & { code?: string }): FetchFailedError {
  const code = err.code ?? '';
  const detail = `${code || err.name}: ${err.message}`;
  if (code.startsWith('HPE_'))
    return new FetchFailedError('bad_response', "the server's answer was not valid HTTP", detail);
  if (code === 'ECONNREFUSED')
    return new FetchFailedError('connection_failed', 'the server refused the connection', detail);
  if (code === 'ECONNRESET' || code === 'EPIPE' || /hang up|aborted/i.test(err.message))
    return new FetchFailedError(
      'connection_failed',
      'the connection was closed before the page was read',
      detail,
    );
  if (/CERT|TLS|SSL/i.test(code))
    return new FetchFailedError(
      'connection_failed',
      "the server's TLS certificate was not accepted",
      detail,
    );
  return new FetchFailedError('connection_failed', 'the server could not be reached', detail);
}

function requestOnce(
  target: CheckedTarget,
  deadline: number,
  maxBytes: number,
): Promise<{ status: number; contentType: string; location?: string; body: string }> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new FetchFailedError('timeout', 'time limit reached'));
  const mod = target.url.protocol === 'https:' ? https : http;
  return new Promise((resolveOnce, rejectOnce) => {
    let settled = false;
    const resolve = (v: {
      status: number;
      contentType: string;
      location?: string;
      body: string;
    }) => {
      if (settled) return;
      settled = true;
      resolveOnce(v);
    };
    const reject = (e: Error) => {
      if (settled) return;
      settled = true;
      rejectOnce(e);
    };
    const req = mod.request(
      target.url,
      {
        method: 'GET',
        headers: { 'user-agent': 'stayline-scrap/1.0', accept: 'text/html,application/xhtml+xml' },
        // a connection of its own: a pooled socket would skip the pinned lookup and the peer check
        agent: false,
        // the URL's name stays the Host header and the TLS server name; the address is the checked one
        lookup: pinnedLookup(target.addresses),
        timeout: remaining,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location) {
          res.resume();
          resolve({ status, contentType: '', location, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            reject(new FetchFailedError('too_large', `page larger than ${maxBytes} bytes`));
            res.destroy();
            req.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({
            status,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (err) => reject(connectionFailure(err)));
      },
    );
    // the peer actually connected to must be one the guard approved, whatever the lookup did
    req.on('socket', (socket: Socket) =>
      socket.once('connect', () => {
        if (isApproved(socket.remoteAddress, target.addresses)) return;
        req.destroy(
          new FetchFailedError(
            'blocked_address',
            "the URL's host is not a public address",
            `connected to ${socket.remoteAddress}, which the guard did not approve`,
          ),
        );
      }),
    );
    const timeUp = () => req.destroy(new FetchFailedError('timeout', 'time limit reached'));
    const timer = setTimeout(timeUp, remaining);
    timer.unref();
    req.on('timeout', timeUp);
    req.on('error', (err) =>
      reject(err instanceof FetchFailedError ? err : connectionFailure(err)),
    );
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}
