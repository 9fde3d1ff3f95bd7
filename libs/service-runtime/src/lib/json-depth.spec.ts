import { nestsDeeperThan } from './json-depth';

const depthOk = (text: string, max: number) => !nestsDeeperThan(Buffer.from(text, 'utf8'), max);

describe('nestsDeeperThan', () => {
  it('counts nested arrays and objects', () => {
    expect(depthOk('{"a":[1,{"b":[]}]}', 4)).toBe(true);
    expect(depthOk('{"a":[1,{"b":[]}]}', 3)).toBe(false);
    expect(depthOk('[[],[],[]]', 2)).toBe(true);
    expect(depthOk('1', 0)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(depthOk('{"a":"[[[[{{{{"}', 1)).toBe(true);
    expect(depthOk('{"a":"\\"[[[[\\\\"}', 1)).toBe(true);
    expect(depthOk('{"a":"\\\\","b":[[]]}', 2)).toBe(false);
  });

  it('is exact over multi-byte UTF-8 text', () => {
    expect(depthOk('{"이름":["[숙소]",{"🏠":"{"}]}', 3)).toBe(true);
    expect(depthOk('{"이름":["[숙소]",{"🏠":"{"}]}', 2)).toBe(false);
  });

  it('stops at the first level past the bound, even in a huge body', () => {
    expect(depthOk('['.repeat(1_000_000), 32)).toBe(false);
  });
});
