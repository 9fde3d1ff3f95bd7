/**
 * Failed logins counted per key (a username and a client address) in a
 * sliding window: after `attempts` failures within `windowMs`, further
 * attempts are refused until the oldest failure leaves the window. Kept in
 * this instance's memory: with N instances behind the gateway, a client may
 * get up to N times the allowance.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly o: { attempts: number; windowMs: number; now?: () => number }) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.o.attempts) return 0;
    return recent[recent.length - this.o.attempts] + this.o.windowMs - this.now();
  }

  failed(key: string): void {
    const recent = this.recent(key);
    recent.push(this.now());
    this.failures.set(key, recent);
    if (this.failures.size > 10_000) this.sweep();
  }

  succeeded(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.o.windowMs;
    return (this.failures.get(key) ?? []).filter((t) => t > since);
  }

  /** Forgets keys with no failure left in the window, so the map does not grow without end. */
  private sweep(): void {
    for (const key of [...this.failures.keys()]) {
      const recent = this.recent(key);
      if (recent.length) this.failures.set(key, recent);
      else this.failures.delete(key);
    }
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}
