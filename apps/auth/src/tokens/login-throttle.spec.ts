import { LoginThrottle } from './login-throttle';

describe('LoginThrottle', () => {
  it('refuses after 5 failures in a minute, until the oldest one leaves the window', () => {
    let now = 0;
    const t = new LoginThrottle({ attempts: 5, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 5; i++) {
      expect(t.retryAfterMs('alice|10.0.0.1')).toBe(0);
      t.failed('alice|10.0.0.1');
      now += 1_000;
    }
    expect(t.retryAfterMs('alice|10.0.0.1')).toBe(55_000);
    // another address, another user: their own counts
    expect(t.retryAfterMs('alice|10.0.0.2')).toBe(0);
    expect(t.retryAfterMs('bob|10.0.0.1')).toBe(0);
    now = 60_001;
    expect(t.retryAfterMs('alice|10.0.0.1')).toBe(0);
  });

  it('forgets the failures of a key that logs in', () => {
    const t = new LoginThrottle({ attempts: 2, windowMs: 60_000, now: () => 0 });
    t.failed('k');
    t.succeeded('k');
    t.failed('k');
    expect(t.retryAfterMs('k')).toBe(0);
    t.failed('k');
    expect(t.retryAfterMs('k')).toBe(60_000);
  });
});
