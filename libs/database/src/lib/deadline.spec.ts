import { withDeadline } from './deadline';

describe('withDeadline', () => {
  it('passes a result or an error through when in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 100, () => new Error('late'))).resolves.toBe(7);
    await expect(
      withDeadline(Promise.reject(new Error('boom')), 100, () => new Error('late')),
    ).rejects.toThrow('boom');
  });

  it('stops the work and rejects once the time is up', async () => {
    let stopped = false;
    const never = new Promise<number>(() => undefined);
    const t0 = performance.now();
    await expect(
      withDeadline(never, 30, () => {
        stopped = true;
        return new Error('late');
      }),
    ).rejects.toThrow('late');
    expect(stopped).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('swallows the failure of work that ends after its deadline', async () => {
    let fail: (e: Error) => void = () => undefined;
    const work = new Promise<number>((_, reject) => (fail = reject));
    await expect(withDeadline(work, 5, () => new Error('late'))).rejects.toThrow('late');
    fail(new Error('connection destroyed')); // no unhandled rejection
    await new Promise((r) => setTimeout(r, 5));
  });

  it('has no deadline for 0', async () => {
    await expect(withDeadline(Promise.resolve('x'), 0, () => new Error('late'))).resolves.toBe('x');
  });
});
