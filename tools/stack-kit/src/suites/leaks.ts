import type { GatewayTarget } from './target';

/**
 * What an answer must never hold (docs/security.md, "Errors"): a stack frame,
 * a source file, an address of the stack's processes, a loopback address, and
 * `X-Instance-Id` where the target's profile hides it. `allowed`: text the
 * answer may name (the test's own page URL, which a user's scraps rightly hold).
 */
export function answerLeaks(
  target: GatewayTarget,
  reply: { body: string; headers: Record<string, string | string[] | undefined> },
  allowed: string[] = [],
): string[] {
  let body = reply.body;
  for (const text of allowed) body = body.split(text).join('<allowed>');
  const found: string[] = [];
  if (/\n\s+at \S/.test(body) || /"stack"\s*:/.test(body)) found.push('a stack trace');
  if (/node_modules|\/work\/|\/tmp\/|\/app\/dist|\.[jt]s:\d+/.test(body)) found.push('a file path');
  for (const address of target.internal) if (body.includes(address)) found.push(address);
  if (/127\.0\.0\.1|localhost|\[::1\]/.test(body)) found.push('a loopback address');
  if (reply.headers['x-instance-id'] && !target.exposesInstanceId)
    found.push(`X-Instance-Id ${String(reply.headers['x-instance-id'])}`);
  return found;
}
