import { LeaseAttempt } from '../redis/lease';
import { ElectionStatus } from './leader-election';
import { LeasePrimitive, RedisLeaderElection } from './redis.leader-election';

/** A lease held in memory; `extendReply` decides what renewals get. */
class FakeLease implements LeasePrimitive {
  holder?: string;
  token = 0;
  extendReply: 'ok' | 'lost' | 'hang' = 'ok';
  released: string[] = [];

  async tryAcquire(owner: string): Promise<LeaseAttempt> {
    if (this.holder) return { acquired: false, holder: this.holder, remainingMs: 500 };
    this.token += 1;
    this.holder = `${owner}|${this.token}`;
    return { acquired: true, token: this.token, value: this.holder };
  }

  extend(): Promise<boolean> {
    if (this.extendReply === 'hang') return new Promise(() => undefined);
    return Promise.resolve(this.extendReply === 'ok');
  }

  async release(value: string): Promise<boolean> {
    this.released.push(value);
    if (this.holder !== value) return false;
    this.holder = undefined;
    return true;
  }
}

describe('RedisLeaderElection (fake lease, fake clock)', () => {
  let now = 0;
  const clock = { now: () => now };
  const options = {
    ttlMs: 3_000,
    renewEveryMs: 1_000,
    safetyMarginMs: 300,
    clock,
    candidateId: 'c1',
  };

  beforeEach(() => {
    now = 0;
    jest.useFakeTimers();
  });
  afterEach(() => jest.useRealTimers());

  /** Moves the fake clock and the timers together, in small steps. */
  async function advance(ms: number) {
    for (let left = ms; left > 0; left -= 10) {
      const step = Math.min(10, left);
      now += step;
      await jest.advanceTimersByTimeAsync(step);
    }
  }

  it('leads with the fencing token drawn at acquisition and keeps leading while renewals succeed', async () => {
    const lease = new FakeLease();
    lease.token = 41;
    const e = new RedisLeaderElection('e', lease, undefined, options);
    const elected = jest.fn();
    e.on('elected', elected);
    await e.start();
    expect(e.state).toMatchObject({ status: ElectionStatus.Leader, token: 42 });
    expect(elected).toHaveBeenCalledWith(42);
    await advance(10_000);
    expect(e.token).toBe(42);
  });

  it('steps down when a renewal finds the lease taken ("lost")', async () => {
    const lease = new FakeLease();
    const e = new RedisLeaderElection('e', lease, undefined, options);
    const deposed = jest.fn();
    e.on('deposed', deposed);
    await e.start();
    lease.extendReply = 'lost';
    lease.holder = 'someone-else|2';
    await advance(1_200);
    expect(deposed).toHaveBeenCalledWith(1, 'lost');
    expect(e.state).toMatchObject({ status: ElectionStatus.Follower });
    expect(e.token).toBeUndefined();
  });

  it('assumes it lost the lease when no renewal succeeded before TTL minus the margin ("expired"), before the server would let it go', async () => {
    const lease = new FakeLease();
    const e = new RedisLeaderElection('e', lease, undefined, options);
    const deposed = jest.fn();
    e.on('deposed', deposed);
    await e.start();
    lease.extendReply = 'hang'; // the coordinator stops answering
    await advance(2_699);
    expect(e.token).toBe(1);
    await advance(2);
    expect(deposed).toHaveBeenCalledWith(1, 'expired');
    expect(e.token).toBeUndefined();
    expect(lease.released).toEqual(['c1|1']); // hands the lease back if it can
  });

  it('checks the deadline when the token is read, even if no timer has run (a process waking from a freeze)', async () => {
    const lease = new FakeLease();
    const e = new RedisLeaderElection('e', lease, undefined, options);
    await e.start();
    now += 5_000; // time passes, timers have not fired yet
    expect(e.token).toBeUndefined();
    expect(e.state.status).toBe(ElectionStatus.Follower);
  });

  it('follows while another holds the lease and tries again when it would run out', async () => {
    const lease = new FakeLease();
    lease.holder = 'other|7';
    lease.token = 7;
    const e = new RedisLeaderElection('e', lease, undefined, options);
    await e.start();
    expect(e.state).toEqual({ status: ElectionStatus.Follower, leaderId: 'other' });
    lease.holder = undefined; // the other's lease runs out
    await advance(501);
    expect(e.state).toMatchObject({ status: ElectionStatus.Leader, token: 8 });
  });

  it('resigns on stop: "deposed" first, then the lease is released', async () => {
    const lease = new FakeLease();
    const e = new RedisLeaderElection('e', lease, undefined, options);
    const order: string[] = [];
    e.on('deposed', (_t, reason) => order.push(`deposed:${reason}:${lease.holder}`));
    await e.start();
    await e.stop();
    order.push(`released:${lease.holder}`);
    expect(order).toEqual(['deposed:resigned:c1|1', 'released:undefined']);
    expect(e.state).toEqual({ status: ElectionStatus.Stopped });
  });
});
