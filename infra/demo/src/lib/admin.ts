import { adminToken, Component, DATA_SERVICES, httpJson, Stack } from '@stayline/stack-kit';

/** A flag's value as the admin API takes it (libs/service-runtime admin-flags.controller.ts). */
export type FlagBody =
  | { kind: 'boolean'; enabled: boolean }
  | { kind: 'number'; value: number }
  | { kind: 'percentage'; percent: number };

/** Running instances of a service (or of every service), as the stack recorded them. */
export function instancesOf(stack: Stack, service?: string): Component[] {
  return stack
    .byKind('service')
    .filter((c) => c.meta?.service && (!service || c.meta.service === service));
}

/**
 * Sets a feature flag centrally through one instance's admin API (the
 * operator's token, scope `admin`; never routed by the gateway); every
 * instance gets it by watch.
 */
export async function setFlag(stack: Stack, name: string, body: FlagBody): Promise<void> {
  await adminFlags(stack, 'PUT', name, body);
}

/** Removes a flag: every instance falls back to its default. */
export async function clearFlag(stack: Stack, name: string): Promise<void> {
  await adminFlags(stack, 'DELETE', name);
}

/**
 * Starts an instance again with some environment changed (a setting its
 * service reads only at start, such as `LB_STRATEGY`); `undefined` removes a
 * variable. Resolves the values it replaced, to hand back for the way back.
 */
export async function restartWithEnv(
  stack: Stack,
  name: string,
  env: Record<string, string | undefined>,
): Promise<Record<string, string | undefined>> {
  const c = stack.component(name);
  const current = { ...c.spec.env };
  const previous = Object.fromEntries(Object.keys(env).map((k) => [k, current[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete current[k];
    else current[k] = v;
  }
  c.spec.env = current;
  await stack.restart(name);
  return previous;
}

/**
 * Stops an instance a demo started and drops it from the stack's record, so
 * that the next demo (and `stack:status`) sees the stack as it was.
 */
export async function removeInstance(stack: Stack, name: string): Promise<void> {
  const known = stack.components.some((c) => c.name === name);
  if (!known) return;
  await stack.stopComponent(name);
  const i = stack.state.components.findIndex((c) => c.name === name);
  if (i >= 0) stack.state.components.splice(i, 1);
  stack.save();
}

async function adminFlags(
  stack: Stack,
  method: string,
  name: string,
  body?: FlagBody,
): Promise<void> {
  const errors: string[] = [];
  const token = await adminToken(stack);
  // any instance will do: the flag lives in the coordinator, not in the instance
  for (const c of instancesOf(stack).filter((x) =>
    DATA_SERVICES.includes(String(x.meta?.service)),
  )) {
    try {
      const res = await httpJson(
        `http://${c.host}:${c.port}/admin/flags/${encodeURIComponent(name)}`,
        { method, body, token, timeoutMs: 3_000 },
      );
      if (res.status >= 200 && res.status < 300) return;
      errors.push(`${c.name}: ${res.status} ${JSON.stringify(res.body)}`);
    } catch (err) {
      errors.push(`${c.name}: ${(err as Error).message}`);
    }
  }
  throw new Error(`could not ${method} flag ${name}: ${errors.join('; ') || 'no instance'}`);
}
