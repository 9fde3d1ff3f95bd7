import { keepTrying } from './timers';

describe('keepTrying', () => {
  it('tries again after each failure until the attempt succeeds, reporting every failure', async () => {
    const failures: Array<[string, number]> = [];
    let calls = 0;
    const result = await keepTrying(
      async () => {
        calls++;
        if (calls < 3) throw new Error(`not yet ${calls}`);
        return 'in place';
      },
      { retryMs: 5, stopped: () => false, onFailure: (err, n) => failures.push([err.message, n]) },
    );
    expect(result).toBe('in place');
    expect(calls).toBe(3);
    expect(failures).toEqual([
      ['not yet 1', 1],
      ['not yet 2', 2],
    ]);
  });

  it('gives up with undefined once stopped, without rejecting', async () => {
    let stopped = false;
    let calls = 0;
    const result = await keepTrying(
      () => {
        calls++;
        stopped = calls === 2;
        return Promise.reject(new Error('unreachable'));
      },
      { retryMs: 5, stopped: () => stopped },
    );
    expect(result).toBeUndefined();
    expect(calls).toBe(2);
  });
});
