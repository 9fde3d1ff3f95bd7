import { parseGtidList } from '@stayline/contracts';
import { PositionHistory } from './position-history';

const pos = (t: string) => parseGtidList(t) ?? new Map();

describe('PositionHistory (lag from GTIDs)', () => {
  it('reads 0 for a replica that has what the primary last had', () => {
    const h = new PositionHistory();
    h.record(pos('0-1-10'), 1000);
    expect(h.lagMs(pos('0-1-10'), 5000)).toBe(0);
    expect(h.lagMs(pos('0-1-11'), 5000)).toBe(0);
  });

  it('measures from the first sighting of the oldest write the replica lacks, in ms', () => {
    const h = new PositionHistory();
    h.record(pos('0-1-10'), 1000);
    h.record(pos('0-1-12'), 1150);
    h.record(pos('0-1-12'), 1300); // unchanged: keeps the first sighting
    h.record(pos('0-1-15'), 1450);
    expect(h.lagMs(pos('0-1-10'), 1600)).toBe(450);
    expect(h.lagMs(pos('0-1-12'), 1600)).toBe(150);
    expect(h.lagMs(pos('0-1-9'), 1600)).toBe(600);
  });

  it('keeps a bounded history; beyond it the lag is at least the oldest sighting', () => {
    const h = new PositionHistory(3);
    for (let i = 1; i <= 5; i++) h.record(pos(`0-1-${i}`), i * 100);
    expect(h.lagMs(pos('0-1-0'), 1000)).toBe(700);
    expect(h.latest()?.get(0)?.seq).toBe(5n);
    h.clear();
    expect(h.lagMs(pos('0-1-0'), 1000)).toBe(0);
  });
});
