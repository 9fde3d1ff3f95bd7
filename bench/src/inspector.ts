/**
 * CPU profiles of running instances through their inspector: an instance started
 * with `NODE_OPTIONS=--inspect=127.0.0.1:0` prints its WebSocket address in its
 * log; {@link profiled} runs some work with the V8 profiler on in each and writes
 * one `.cpuprofile` per instance (summarised by bench/src/cpuprofile.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Component } from '@stayline/stack-kit';
import type { CpuProfile } from './cpuprofile';

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspectorSession(wsUrl: string) {
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot open ${wsUrl}`)), { once: true });
  });
  let id = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.addEventListener('message', (ev: MessageEvent) => {
    const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: unknown };
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id as number);
    if (msg.error) p.reject(new Error(JSON.stringify(msg.error)));
    else p.resolve(msg.result);
  });
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const n = ++id;
      ws.send(JSON.stringify({ id: n, method, params }));
      return new Promise<T>((resolve, reject) =>
        pending.set(n, { resolve: resolve as (v: unknown) => void, reject }),
      );
    },
    close: () => ws.close(),
  };
}

/**
 * The inspector's WebSocket address an instance printed at start (`--inspect=127.0.0.1:0`):
 * the last one in its log, which an instance started again under the same name appends to.
 */
function inspectorUrl(c: Component): string {
  const log = fs.readFileSync(c.spec.logFile, 'utf8');
  const m = [...log.matchAll(/Debugger listening on (ws:\/\/\S+)/g)].pop();
  if (!m) throw new Error(`${c.name} printed no inspector address in ${c.spec.logFile}`);
  return m[1];
}

/** Runs `work` with the CPU profiler on in each of `instances`; writes one .cpuprofile each to `dir`. */
export async function profiled<T>(
  instances: Component[],
  dir: string,
  work: () => Promise<T>,
): Promise<{ value: T; files: Map<string, string[]> }> {
  const sessions = await Promise.all(instances.map((c) => inspectorSession(inspectorUrl(c))));
  try {
    for (const s of sessions) await s.send('Profiler.enable');
    for (const s of sessions) await s.send('Profiler.start');
    const value = await work();
    const files = new Map<string, string[]>();
    fs.mkdirSync(dir, { recursive: true });
    for (const [i, s] of sessions.entries()) {
      const { profile } = await s.send<{ profile: CpuProfile }>('Profiler.stop');
      const c = instances[i];
      const file = path.join(dir, `${c.name}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      const service = String(c.meta?.service ?? c.name);
      files.set(service, [...(files.get(service) ?? []), file]);
    }
    return { value, files };
  } finally {
    for (const s of sessions) s.close();
  }
}
