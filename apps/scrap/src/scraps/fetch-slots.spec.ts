import { FetchCapacityError, FetchSlots } from './fetch-slots';

describe('FetchSlots', () => {
  let now = 0;
  const slots = () => new FetchSlots({ perInstance: 3, perUser: 2 }, () => now);

  beforeEach(() => {
    now = 1_000_000;
  });

  it('lets one user hold two fetches, and refuses the third with the wait until the first ends', () => {
    const s = slots();
    s.acquire('alice', now + 5_000);
    s.acquire('alice', now + 4_200);
    const err = (() => {
      try {
        s.acquire('alice', now + 5_000);
      } catch (e) {
        return e;
      }
    })() as FetchCapacityError;
    expect(err).toBeInstanceOf(FetchCapacityError);
    expect(err).toMatchObject({ scope: 'user', retryAfterS: 5 });
    // another user still gets one
    expect(() => s.acquire('bob', now + 5_000)).not.toThrow();
  });

  it('refuses past the instance cap, whoever asks', () => {
    const s = slots();
    s.acquire('a', now + 3_000);
    s.acquire('b', now + 5_000);
    s.acquire('c', now + 5_000);
    expect(() => s.acquire('d', now + 5_000)).toThrow(
      expect.objectContaining({ scope: 'instance', retryAfterS: 3 }),
    );
  });

  it('gives the slot back once, however often release is called, and forgets idle users', () => {
    const s = slots();
    const release = s.acquire('alice', now + 5_000);
    s.acquire('alice', now + 5_000);
    release();
    release();
    expect(s.usage()).toEqual({ fetches: 1, users: 1 });
    expect(() => s.acquire('alice', now + 5_000)).not.toThrow();
    expect(() => s.acquire('alice', now + 5_000)).toThrow(FetchCapacityError);
  });

  it('says retry in at least a second, even past a deadline', () => {
    const s = slots();
    s.acquire('alice', now - 10);
    s.acquire('alice', now - 10);
    expect(() => s.acquire('alice', now)).toThrow(expect.objectContaining({ retryAfterS: 1 }));
  });

  it('holds no state once every fetch is done', () => {
    const s = slots();
    const releases = ['a', 'b', 'a'].map((u) => s.acquire(u, now + 1_000));
    releases.forEach((r) => r());
    expect(s.usage()).toEqual({ fetches: 0, users: 0 });
  });
});
