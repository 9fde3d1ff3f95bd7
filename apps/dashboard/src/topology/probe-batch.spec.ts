import { PROBES_PER_ROUND, probeBatch } from './topology-collector';

describe('probeBatch: the instances one poll round probes', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `i${i}`);

  it('probes every instance each round while they fit in one round', () => {
    const all = ids(PROBES_PER_ROUND);
    expect(probeBatch(all, 0)).toEqual({ batch: all, next: 0 });
    expect(probeBatch(all, 57).batch).toEqual(all);
  });

  it('probes a fixed number per round beyond that, in turn, so every instance comes round', () => {
    const all = ids(5);
    const seen: string[][] = [];
    let cursor = 0;
    for (let round = 0; round < 4; round++) {
      const { batch, next } = probeBatch(all, cursor, 2);
      seen.push(batch);
      cursor = next;
    }
    expect(seen).toEqual([
      ['i0', 'i1'],
      ['i2', 'i3'],
      ['i4', 'i0'],
      ['i1', 'i2'],
    ]);
  });

  it('starts again from the front when instances went away past the cursor', () => {
    expect(probeBatch(ids(3), 7, 2)).toEqual({ batch: ['i1', 'i2'], next: 3 });
  });
});
