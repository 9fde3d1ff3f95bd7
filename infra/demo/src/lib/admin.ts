import { Component, Stack } from '@stayline/stack-kit';

// the flags' admin calls live in the stack kit (tests use them too)
export { clearFlag, setFlag, type FlagBody } from '@stayline/stack-kit';

/** Running instances of a service (or of every service), as the stack recorded them. */
export function instancesOf(stack: Stack, service?: string): Component[] {
  return stack
    .byKind('service')
    .filter((c) => c.meta?.service && (!service || c.meta.service === service));
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
