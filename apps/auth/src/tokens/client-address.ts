import type { Request } from 'express';

/**
 * The client's address: the socket's peer, or, behind `trustedHops` proxies
 * that each append to X-Forwarded-For (the gateway), the entry that many from
 * the right. Entries further left are the client's own to write, never read.
 */
export function clientAddress(req: Request, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedHops === 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedHops] ?? peer;
}
