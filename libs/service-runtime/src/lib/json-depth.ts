/**
 * A bound on how deeply a JSON body nests, checked on its raw bytes before it is
 * parsed. JSON.parse copes with any depth, but what runs after it does not:
 * class-transformer and class-validator recurse into every nested value, and a
 * 64 kB body of `[[[[...` is 32,000 levels, past the stack (a RangeError, a 500).
 */
import type { IncomingMessage } from 'node:http';

/** The default bound: far above any DTO here (the deepest nests 3 levels). */
export const JSON_MAX_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/**
 * Whether the UTF-8 JSON text in `bytes` nests arrays and objects deeper than
 * `max`. Brackets inside strings do not count; in UTF-8 these bytes never occur
 * inside a multi-byte character, so scanning bytes is exact.
 */
export function nestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (OPENERS.has(b)) {
      if (++depth > max) return true;
    } else if (CLOSERS.has(b)) depth--;
  }
  return false;
}

/** An error body-parser passes on with its status; its message is safe to show. */
function clientError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, expose: true, type });
}

/**
 * body-parser's `verify` hook: refuses a body nesting deeper than `maxDepth`
 * (400) and JSON in another encoding than UTF-8 (415; RFC 8259 requires UTF-8
 * between systems), before it is parsed.
 */
export function refuseDeepJson(maxDepth = JSON_MAX_DEPTH) {
  return (_req: IncomingMessage, _res: unknown, body: Buffer, encoding: string): void => {
    if (encoding.toLowerCase() !== 'utf-8')
      throw clientError(415, 'charset.unsupported', 'send JSON encoded as UTF-8');
    if (nestsDeeperThan(body, maxDepth))
      throw clientError(400, 'entity.too.deep', `JSON nested deeper than ${maxDepth} levels`);
  };
}
