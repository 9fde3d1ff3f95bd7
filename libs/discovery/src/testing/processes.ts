/**
 * Test and benchmark helpers: run a fixture script of this folder as a real,
 * separate process recorded in the launcher's stack (so `stack.kill(name, sig)`
 * reaches it and `stack.stop()` stops it first, with SIGTERM).
 */
import path from 'node:path';
import { Component, ComponentKind, Stack } from '@stayline/stack-kit';
import { RedisTarget } from '@stayline/coordination';

/** The stack's Redis as a Sentinel target, with a service's logins (what services use). */
export function sentinelTarget(stack: Stack): RedisTarget {
  const { sentinels, ...rest } = stack.redisTarget('service');
  return { ...rest, sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })) };
}

export interface FixtureProcess {
  /** Unique within the stack, e.g. `payment-1`. */
  name: string;
  /** A file of this folder, e.g. `registrant.ts`. */
  script: string;
  args: Record<string, string | number>;
  kind?: ComponentKind;
  /** Ports it listens on; the first is waited for before this resolves. */
  ports?: Record<string, number>;
}

/** Starts a fixture process; resolves once it runs (and listens, when it has ports). */
export function startFixture(stack: Stack, p: FixtureProcess): Promise<Component> {
  return stack.spawnScript({
    name: p.name,
    script: path.join(__dirname, p.script),
    args: Object.entries(p.args).flatMap(([k, v]) => [`--${k}`, String(v)]),
    kind: p.kind ?? 'service',
    role: 'instance',
    ports: p.ports,
  });
}

/** `--name value` pairs of a fixture's command line. */
export function fixtureArgs(argv = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}
