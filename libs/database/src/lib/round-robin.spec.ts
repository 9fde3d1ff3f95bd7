import { RoundRobin } from './round-robin';

describe('RoundRobin', () => {
  it('spreads picks evenly and copes with a list that changes', () => {
    const rr = new RoundRobin();
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 100; i++) counts[rr.pick(['a', 'b'] as const) ?? 'a']++;
    expect(counts).toEqual({ a: 50, b: 50 });
    expect(rr.pick(['c'])).toBe('c');
    expect(rr.pick([])).toBeUndefined();
  });
});
