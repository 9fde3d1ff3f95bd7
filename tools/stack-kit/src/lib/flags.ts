import { adminToken } from './tokens';
import { httpJson } from './http-json';
import { DATA_SERVICES } from './whole-stack';
import type { Stack } from './stack';

/** A flag's value as the admin API takes it (libs/service-runtime admin-flags.controller.ts). */
export type FlagBody =
  | { kind: 'boolean'; enabled: boolean }
  | { kind: 'number'; value: number }
  | { kind: 'percentage'; percent: number };

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

async function adminFlags(
  stack: Stack,
  method: string,
  name: string,
  body?: FlagBody,
): Promise<void> {
  const errors: string[] = [];
  const token = await adminToken(stack);
  // any instance will do: the flag lives in the coordinator, not in the instance
  for (const c of stack
    .byKind('service')
    .filter((x) => DATA_SERVICES.includes(String(x.meta?.service)))) {
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
