import { FeatureFlags } from './feature-flags';
import { FlagListener, FlagStore } from './flag-store';
import { flag, FlagSnapshot, FlagValue } from './flag-value';
import { inRollout } from './rollout';

/** An in-memory store that can be made unreachable. */
class MemoryFlagStore implements FlagStore {
  reachable = true;
  private flags: Record<string, FlagValue> = {};
  private version = 0;
  private readonly listeners = new Set<FlagListener>();

  async load(): Promise<FlagSnapshot> {
    if (!this.reachable) throw new Error('coordinator unreachable');
    return { version: this.version, flags: { ...this.flags } };
  }

  async write(name: string, value: FlagValue | null): Promise<number> {
    if (!this.reachable) throw new Error('coordinator unreachable');
    if (value) this.flags[name] = value;
    else delete this.flags[name];
    this.version += 1;
    for (const l of this.listeners) l({ version: this.version, flags: { ...this.flags } }, [name]);
    return this.version;
  }

  async watch(listener: FlagListener): Promise<() => Promise<void>> {
    listener(await this.load(), []);
    this.listeners.add(listener);
    return async () => void this.listeners.delete(listener);
  }
}

describe('FeatureFlags', () => {
  it('evaluates boolean, number and percentage flags from the local copy', async () => {
    const store = new MemoryFlagStore();
    await store.write('dark-mode', flag.boolean(true));
    await store.write('payment.latencyMs', flag.number(250));
    await store.write('new-checkout', flag.percentage(30));
    const flags = new FeatureFlags(store);
    await flags.start();
    expect(flags.isEnabled('dark-mode')).toBe(true);
    expect(flags.number('payment.latencyMs', 0)).toBe(250);
    expect(flags.number('missing', 7)).toBe(7);
    expect(flags.isEnabled('missing')).toBe(false);
    expect(flags.isEnabled('new-checkout')).toBe(false); // no key: off
    expect(flags.isEnabled('new-checkout', { key: 'user-1' })).toBe(
      inRollout('new-checkout', 'user-1', 30),
    );
    await flags.stop();
  });

  it('applies a change without a restart and tells listeners', async () => {
    const store = new MemoryFlagStore();
    const flags = new FeatureFlags(store);
    await flags.start();
    const seen: string[][] = [];
    flags.onChange((changed) => seen.push([...changed]));
    await flags.set('dark-mode', flag.boolean(true));
    expect(flags.isEnabled('dark-mode')).toBe(true);
    await flags.set('dark-mode', null);
    expect(flags.isEnabled('dark-mode')).toBe(false);
    expect(seen).toEqual([['dark-mode'], ['dark-mode']]);
    await flags.stop();
  });

  it('serves the defaults while the store is unreachable at start, then the store values once it answers', async () => {
    const store = new MemoryFlagStore();
    await store.write('payment.latencyMs', flag.number(250));
    store.reachable = false;
    const flags = new FeatureFlags(store, {
      defaults: { 'payment.latencyMs': flag.number(100) },
      retryMs: 10,
    });
    await flags.start({ waitMs: 30 });
    expect(flags.ready).toBe(false);
    expect(flags.number('payment.latencyMs', 0)).toBe(100);
    store.reachable = true;
    for (let i = 0; i < 100 && !flags.ready; i++) await new Promise((r) => setTimeout(r, 10));
    expect(flags.ready).toBe(true);
    expect(flags.number('payment.latencyMs', 0)).toBe(250);
    await flags.stop();
  });

  it('keeps answering from the last values seen when the store becomes unreachable', async () => {
    const store = new MemoryFlagStore();
    await store.write('dark-mode', flag.boolean(true));
    const flags = new FeatureFlags(store);
    await flags.start();
    store.reachable = false;
    expect(flags.isEnabled('dark-mode')).toBe(true);
    await expect(flags.set('dark-mode', flag.boolean(false))).rejects.toThrow(/unreachable/);
    expect(flags.isEnabled('dark-mode')).toBe(true);
    await flags.stop();
  });
});
