import { GiveUp, waitFor } from './wait';

describe('waitFor', () => {
  it('polls through errors until the check holds', async () => {
    let calls = 0;
    await waitFor(
      'the third look',
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return true;
      },
      { timeoutMs: 2_000, intervalMs: 1 },
    );
    expect(calls).toBe(3);
  });

  it('names what it waited for and the last error when time runs out', async () => {
    await expect(
      waitFor(
        'a port',
        () => {
          throw new Error('refused');
        },
        { timeoutMs: 30, intervalMs: 5 },
      ),
    ).rejects.toThrow('timed out after 30 ms waiting for a port: refused');
  });

  it('gives up at the first GiveUp (a process that exited) instead of polling until the timeout', async () => {
    let calls = 0;
    await expect(
      waitFor(
        'a process that exited',
        () => {
          calls += 1;
          throw new GiveUp('payment-1 exited');
        },
        { timeoutMs: 10_000, intervalMs: 5 },
      ),
    ).rejects.toThrow(GiveUp);
    expect(calls).toBe(1);
  });
});
