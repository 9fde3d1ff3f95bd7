import { fnv1a32, inRollout, rolloutBucket } from './rollout';

describe('percentage rollout by a stable key', () => {
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

  it('hashes with FNV-1a (known vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('gives the same user the same answer every time', () => {
    for (const u of users.slice(0, 100))
      expect(rolloutBucket('new-checkout', u)).toBe(rolloutBucket('new-checkout', u));
  });

  it('turns the flag on for about the given share of users', () => {
    for (const percent of [1, 10, 50, 90]) {
      const on = users.filter((u) => inRollout('new-checkout', u, percent)).length / users.length;
      expect(on).toBeGreaterThan(percent / 100 - 0.02);
      expect(on).toBeLessThan(percent / 100 + 0.02);
    }
    expect(users.some((u) => inRollout('new-checkout', u, 0))).toBe(false);
    expect(users.every((u) => inRollout('new-checkout', u, 100))).toBe(true);
  });

  it('only adds users when the percentage grows', () => {
    const at10 = users.filter((u) => inRollout('new-checkout', u, 10));
    expect(at10.every((u) => inRollout('new-checkout', u, 25))).toBe(true);
  });

  it('draws different users for different flags', () => {
    const a = new Set(users.filter((u) => inRollout('flag-a', u, 10)));
    const both = users.filter((u) => a.has(u) && inRollout('flag-b', u, 10)).length;
    expect(both / users.length).toBeLessThan(0.03); // about 1 %, as for independent draws
  });
});
