import { formatGtidList, hasReached, mergePositions, parseGtidList, samePosition } from './gtid';

const pos = (text: string) => {
  const p = parseGtidList(text);
  if (!p) throw new Error(`bad test position ${text}`);
  return p;
};

describe('GTID positions', () => {
  it('parses single and multi-domain lists, and the empty position', () => {
    expect(formatGtidList(pos('0-1-42'))).toBe('0-1-42');
    expect(formatGtidList(pos('1-2-7, 0-1-42'))).toBe('0-1-42,1-2-7');
    expect(pos('').size).toBe(0);
  });

  it('keeps sequence numbers beyond 2^53 exact', () => {
    expect(formatGtidList(pos('0-1-18446744073709551615'))).toBe('0-1-18446744073709551615');
  });

  it('accepts every part up to its MariaDB range (32-bit domain and server, 64-bit sequence)', () => {
    const max = '4294967295-4294967295-18446744073709551615';
    expect(formatGtidList(pos(max))).toBe(max);
  });

  it.each([
    ["0-1-1'); DROP TABLE reservation; --"],
    ['0-1'],
    ['a-b-c'],
    ['0-1-1,'],
    [Array.from({ length: 17 }, (_, i) => `${i}-1-1`).join(',')],
    ['0-1-123456789012345678901'],
    ['4294967296-1-1'],
    ['0-4294967296-1'],
    ['0-1-18446744073709551616'],
    ['0-1-99999999999999999999'],
    ['9999999999-9999999999-1'],
  ])('refuses malformed or out-of-range input %s', (text) => {
    expect(parseGtidList(text)).toBeUndefined();
  });

  it('compares per domain by sequence number, whatever server wrote it (failover keeps counting)', () => {
    expect(hasReached(pos('0-2-101'), pos('0-1-100'))).toBe(true);
    expect(hasReached(pos('0-1-99'), pos('0-1-100'))).toBe(false);
    expect(hasReached(pos('0-1-100'), pos('0-1-100,1-3-5'))).toBe(false);
    expect(hasReached(pos('0-1-100,1-3-5'), pos('1-3-5'))).toBe(true);
    expect(hasReached(pos('0-1-1'), pos(''))).toBe(true);
  });

  it('merges to the later GTID per domain', () => {
    expect(formatGtidList(mergePositions(pos('0-1-10,1-1-3'), pos('0-2-12')))).toBe('0-2-12,1-1-3');
    expect(samePosition(pos('0-1-5'), pos('0-1-5'))).toBe(true);
    expect(samePosition(pos('0-1-5'), pos('0-1-6'))).toBe(false);
  });
});
