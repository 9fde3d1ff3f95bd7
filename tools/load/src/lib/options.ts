/**
 * The options of `npm run load`, parsed and checked before anything is sent:
 * every bad value is refused with a message that names the option, what it
 * got and what it takes ({@link OptionError}).
 */

/** The kinds of request in the mix (docs/load.md, "The mix"). */
export const KINDS = ['browse', 'bookings', 'book', 'cancel'] as const;
export type Kind = (typeof KINDS)[number];

/** Weight per kind, in any unit (they are shares of the total). */
export type Mix = Record<Kind, number>;

export const DEFAULT_MIX: Readonly<Mix> = { browse: 60, bookings: 10, book: 20, cancel: 10 };

export const LIMITS = {
  /** Arrivals per second: one Node process keeps a schedule up to a few thousand. */
  rate: { min: 0.1, max: 5_000, default: 20 },
  /** Seconds: a run is bounded. */
  duration: { min: 0.1, max: 600, default: 30 },
  maxRequests: { min: 1, max: 3_000_000 },
  /** Users the requests act as (each with its own token). */
  users: { min: 1, max: 1_000, default: 2 },
  /** Connections (sockets) to the gateway at most. */
  connections: { min: 1, max: 10_000, default: 256 },
  /** Seconds from a request's intended send time until it is abandoned as a timeout. */
  timeout: { min: 0.1, max: 60, default: 10 },
} as const;

export interface LoadCliOptions {
  rate: number;
  durationS: number;
  maxRequests?: number;
  mix: Mix;
  /** The gateway, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  url: string;
  users: number;
  connections: number;
  timeoutS: number;
  json: boolean;
  /** Leave the bookings the run still holds at its end (by default they are cancelled). */
  keep: boolean;
  help: boolean;
}

/** A bad option: the message is what the user reads. */
export class OptionError extends Error {}

export const USAGE = `npm run load -- [options]     an open-model load on the running stack's gateway

  --rate <req/s>        arrivals per second, at fixed intended times (default ${LIMITS.rate.default}, ${LIMITS.rate.min} to ${LIMITS.rate.max})
  --duration <s>        how long arrivals are scheduled (default ${LIMITS.duration.default}, at most ${LIMITS.duration.max})
  --max-requests <n>    stop scheduling after n arrivals, whichever comes first
  --mix <kind=w,...>    weights of browse, bookings, book, cancel (default ${formatMix(DEFAULT_MIX)})
  --url <url>           the gateway (default http://127.0.0.1:\${STAYLINE_GATEWAY_PORT:-8080}); loopback only
  --users <n>           users the requests act as (default ${LIMITS.users.default}: alice and bob; more: load-1..load-n,
                        tokens issued by the stack's auth, found through STAYLINE_STATE_DIR or .stack)
  --connections <n>     sockets to the gateway at most (default ${LIMITS.connections.default})
  --timeout <s>         a request unanswered this long after its intended time is a timeout (default ${LIMITS.timeout.default})
  --keep                keep the bookings still held at the end (default: cancel them, after the measurement)
  --json                the summary as JSON on stdout
  --help                this text

See docs/load.md.`;

export function formatMix(mix: Readonly<Mix>): string {
  return KINDS.map((k) => `${k}=${mix[k]}`).join(',');
}

/**
 * `browse=60,bookings=10,book=20,cancel=10`: a kind left out weighs 0. Weights
 * are non-negative numbers; at least one is above 0.
 */
export function parseMix(text: string): Mix {
  const mix: Mix = { browse: 0, bookings: 0, book: 0, cancel: 0 };
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*([^,]*?)\s*$/.exec(part);
    if (!m)
      throw new OptionError(
        `--mix: expected kind=weight pairs separated by commas, e.g. ${formatMix(DEFAULT_MIX)}; got "${part}"`,
      );
    const [, kind, weight] = m;
    if (!(KINDS as readonly string[]).includes(kind))
      throw new OptionError(`--mix: unknown kind "${kind}"; the kinds are ${KINDS.join(', ')}`);
    if (seen.has(kind)) throw new OptionError(`--mix: ${kind} is given twice`);
    seen.add(kind);
    const w = Number(weight);
    if (weight === '' || !Number.isFinite(w) || w < 0)
      throw new OptionError(`--mix: the weight of ${kind} must be a number >= 0, got "${weight}"`);
    mix[kind as Kind] = w;
  }
  if (KINDS.every((k) => mix[k] === 0))
    throw new OptionError('--mix: every weight is 0; give at least one kind a weight above 0');
  return mix;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Whether `host` (a URL's hostname) is this machine's loopback: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  if (LOOPBACK_NAMES.has(host)) return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}

/**
 * The gateway's URL, checked: http, a loopback host, no path but `/`. Any other
 * host is refused: the generator is for the stack on this machine, never
 * someone else's service.
 */
export function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OptionError(`--url: not a URL: "${text}" (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:')
    throw new OptionError(
      `--url: only http:// is supported (the stack's gateway), got ${url.protocol}`,
    );
  if (!isLoopbackHost(url.hostname))
    throw new OptionError(
      `--url: ${url.hostname} is not a loopback address; the load generator only targets this machine (localhost, 127.0.0.0/8, ::1)`,
    );
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username)
    throw new OptionError(
      `--url: give the gateway's origin only, e.g. http://127.0.0.1:8080 (got "${text}")`,
    );
  return url.origin;
}

function number(
  option: string,
  value: string,
  { min, max }: { min: number; max: number },
  integer = false,
): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new OptionError(
      `${option}: expected ${integer ? 'a whole number' : 'a number'}, got "${value}"`,
    );
  if (n < min || n > max)
    throw new OptionError(`${option}: must be from ${min} to ${max}, got ${value}`);
  return n;
}

const FLAGS = new Set(['--json', '--keep', '--help', '-h']);
const VALUED = new Set([
  '--rate',
  '--duration',
  '--max-requests',
  '--mix',
  '--url',
  '--users',
  '--connections',
  '--timeout',
]);

/** Parses the command line (`--name value` or `--name=value`); throws {@link OptionError}. */
export function parseOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): LoadCliOptions {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (FLAGS.has(name)) {
      if (eq > 0) throw new OptionError(`${name} takes no value`);
      flags.add(name === '-h' ? '--help' : name);
    } else if (VALUED.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new OptionError(`${name} needs a value`);
      if (values.has(name)) throw new OptionError(`${name} is given twice`);
      values.set(name, value);
    } else {
      throw new OptionError(`unknown option "${arg}" (npm run load -- --help lists them)`);
    }
  }
  const num = (name: string, limits: { min: number; max: number }, integer = false) => {
    const v = values.get(name);
    return v === undefined ? undefined : number(name, v, limits, integer);
  };
  const L = LIMITS;
  const mix = values.get('--mix');
  return {
    rate: num('--rate', L.rate) ?? L.rate.default,
    durationS: num('--duration', L.duration) ?? L.duration.default,
    maxRequests: num('--max-requests', L.maxRequests, true),
    mix: mix === undefined ? { ...DEFAULT_MIX } : parseMix(mix),
    url: parseUrl(values.get('--url') ?? `http://127.0.0.1:${env.STAYLINE_GATEWAY_PORT ?? '8080'}`),
    users: num('--users', L.users, true) ?? L.users.default,
    connections: num('--connections', L.connections, true) ?? L.connections.default,
    timeoutS: num('--timeout', L.timeout) ?? L.timeout.default,
    json: flags.has('--json'),
    keep: flags.has('--keep'),
    help: flags.has('--help'),
  };
}
