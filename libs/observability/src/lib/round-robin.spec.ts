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

  it('starts with the first item and takes each in turn', () => {
    const rr = new RoundRobin();
    expect(Array.from({ length: 4 }, () => rr.pick(['a', 'b', 'c']))).toEqual(['a', 'b', 'c', 'a']);
  });

  it('skips the items it may not use, and gives none when all are refused', () => {
    const rr = new RoundRobin();
    const notB = (id: string) => id !== 'b';
    expect(Array.from({ length: 4 }, () => rr.pick(['a', 'b', 'c'], notB))).toEqual([
      'a',
      'c',
      'a',
      'c',
    ]);
    expect(rr.pick(['a', 'b'], () => false)).toBeUndefined();
  });
});
