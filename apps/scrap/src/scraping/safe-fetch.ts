import http from 'node:http';
import https from 'node:https';
import type { SsrfGuard } from './ssrf-guard';

export interface FetchLimits {
  /** Largest body read, in bytes; past it the fetch fails. */
  maxBytes: number;
  /** Whole fetch, redirects included. */
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
 * The page, not the caller, is at fault: it did not answer in time, answered
 * too much, broke the protocol, or redirected nowhere or in circles.
 */
export class FetchFailedError extends Error {}

/**
 * Fetches a page under the SSRF guard and hard limits: every hop (the first URL
 * and each redirect) is checked and connected to the very address that was
 * checked; size, time and redirect count are bounded. Rejects with
 * ForbiddenTargetError when a hop is refused, FetchFailedError for anything the
 * page does wrong, and nothing else.
 */
export async function safeFetch(
  rawUrl: string,
  guard: SsrfGuard,
  limits: FetchLimits,
): Promise<FetchedPage> {
  const deadline = Date.now() + limits.timeoutMs;
  let current = rawUrl;
  for (let hop = 0; hop <= limits.maxRedirects; hop++) {
    const target = await guard.check(current);
    const res = await requestOnce(target, deadline, limits.maxBytes);
    if (res.status >= 300 && res.status < 400 && res.location) {
      current = redirectTarget(res.location, target.url);
      continue;
    }
    return {
      url: target.url.toString(),
      status: res.status,
      contentType: res.contentType,
      body: res.body,
    };
  }
  throw new FetchFailedError(`more than ${limits.maxRedirects} redirects (a redirect loop?)`);
}

/** Where a redirect leads; a Location that is no URL is the page's fault, not the caller's. */
function redirectTarget(location: string, base: URL): string {
  try {
    return new URL(location, base).toString();
  } catch {
    const shown = location.length > 100 ? `${location.slice(0, 100)}...` : location;
    throw new FetchFailedError(`the page redirected to an invalid URL (Location: ${shown})`);
  }
}

function requestOnce(
  target: { url: URL; address: string; family: 4 | 6 },
  deadline: number,
  maxBytes: number,
): Promise<{ status: number; contentType: string; location?: string; body: string }> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return Promise.reject(new FetchFailedError('time limit reached'));
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
        // pin the connection to the address the guard approved (no second DNS lookup)
        lookup: (_host, opts, cb) => {
          if ((opts as { all?: boolean }).all) {
            (cb as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(
              null,
              [{ address: target.address, family: target.family }],
            );
          } else cb(null, target.address, target.family);
        },
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
            reject(new FetchFailedError(`page larger than ${maxBytes} bytes`));
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
        res.on('error', (err) => reject(new FetchFailedError(err.message)));
      },
    );
    const timer = setTimeout(
      () => req.destroy(new FetchFailedError('time limit reached')),
      remaining,
    );
    timer.unref();
    req.on('timeout', () => req.destroy(new FetchFailedError('time limit reached')));
    req.on('error', (err) =>
      reject(err instanceof FetchFailedError ? err : new FetchFailedError(err.message)),
    );
    req.on('close', () => clearTimeout(timer));
    req.end();
  });
}
