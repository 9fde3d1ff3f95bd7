import { describeInstance } from '../instance';
import { Balancer } from './balancer';
import { PowerOfTwoStrategy } from './power-of-two.strategy';
import { RoundRobinStrategy } from './round-robin.strategy';
import { Endpoint } from './strategy';

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const instance = describeInstance({
      service: 'payment',
      id: `p${i + 1}`,
      host: '127.0.0.1',
      tcpPort: 4201 + i,
    });
    return { id: instance.id, host: instance.host, port: 4201 + i, instance };
  });
}

function fakeClock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function counts(b: Balancer, picks: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const id = b.pick() ?? 'none';
    out[id] = (out[id] ?? 0) + 1;
  }
  return out;
}

describe('RoundRobinStrategy', () => {
  it('takes each endpoint in turn', () => {
    const b = new Balancer({ strategy: new RoundRobinStrategy() });
    b.setEndpoints(endpoints(3));
    expect(Array.from({ length: 6 }, () => b.pick())).toEqual(['p1', 'p2', 'p3', 'p1', 'p2', 'p3']);
  });
});

describe('PowerOfTwoStrategy', () => {
  it('spreads evenly when every endpoint is equally loaded', () => {
    const b = new Balancer({ strategy: 'power-of-two' });
    b.setEndpoints(endpoints(2));
    const c = counts(b, 10_000);
    expect(c.p1 / 10_000).toBeGreaterThan(0.45);
    expect(c.p1 / 10_000).toBeLessThan(0.55);
  });

  it('sends to the endpoint with fewer calls outstanding', () => {
    const b = new Balancer({ strategy: 'power-of-two' });
    b.setEndpoints(endpoints(2));
    const slow = Array.from({ length: 5 }, () => b.begin('p1')); // p1 has 5 calls hanging
    expect(counts(b, 100)).toEqual({ p2: 100 });
    for (const done of slow) done(true);
    expect(b.stats().map((s) => s.outstanding)).toEqual([0, 0]);
  });

  it('never draws the same endpoint twice for one choice', () => {
    const draws = [0.0, 0.0]; // the first index 0, then "any other" must not be 0 again
    const s = new PowerOfTwoStrategy(() => draws.shift() ?? 0);
    const eps = endpoints(3);
    const seen: string[] = [];
    s.pick(eps, (id) => {
      seen.push(id);
      return 0;
    });
    expect(new Set(seen).size).toBe(2);
  });
});

describe('Balancer ejection', () => {
  it('ejects an endpoint after consecutive failures for the cool-down; back, one failure ejects it for twice as long', () => {
    const clock = fakeClock();
    const b = new Balancer({ clock, ejection: { consecutiveFailures: 3, coolDownMs: 1_000 } });
    b.setEndpoints(endpoints(2));
    for (let i = 0; i < 2; i++) b.begin('p1')(false);
    b.begin('p1')(true); // a success resets the count
    for (let i = 0; i < 3; i++) b.begin('p1')(false);
    expect(counts(b, 10)).toEqual({ p2: 10 });
    expect(b.stats()[0].ejectedForMs).toBe(1_000);
    clock.advance(1_001);
    expect(counts(b, 10)).toEqual({ p1: 5, p2: 5 });
    b.begin('p1')(false); // the trial fails: out again, for twice as long
    expect(b.stats()[0].ejectedForMs).toBe(2_000);
    clock.advance(2_001);
    b.begin('p1')(true); // the trial succeeds: back for good
    b.begin('p1')(false);
    expect(b.stats()[0].ejectedForMs).toBe(0);
  });

  it('never ejects the last endpoints standing (at most half, never all)', () => {
    const b = new Balancer({ clock: fakeClock(), ejection: { consecutiveFailures: 1 } });
    b.setEndpoints(endpoints(2));
    b.begin('p1')(false);
    b.begin('p2')(false);
    expect(b.stats().map((s) => s.ejectedForMs > 0)).toEqual([true, false]);
    expect(counts(b, 4)).toEqual({ p2: 4 });
  });

  it('keeps the state of endpoints that stay when discovery updates the list', () => {
    const clock = fakeClock();
    const b = new Balancer({ clock, ejection: { consecutiveFailures: 1 } });
    const eps = endpoints(3);
    b.setEndpoints(eps);
    b.begin('p1')(false);
    b.setEndpoints([eps[0], eps[2]]);
    expect(b.stats().map((s) => [s.id, s.ejectedForMs > 0])).toEqual([
      ['p1', true],
      ['p3', false],
    ]);
  });

  it('leaves out excluded endpoints and says so when none is left', () => {
    const b = new Balancer();
    b.setEndpoints(endpoints(2));
    expect(b.pick(new Set(['p1']))).toBe('p2');
    expect(b.pick(new Set(['p1', 'p2']))).toBeUndefined();
    b.setEndpoints([]);
    expect(b.pick()).toBeUndefined();
  });
});

describe('Balancer with a gate (a per-endpoint breaker)', () => {
  it('asks the gate instead of ejecting, and reports every result to it', () => {
    const open = new Set(['p1']);
    const results: Array<[string, boolean]> = [];
    const b = new Balancer({
      ejection: { consecutiveFailures: 1 },
      gate: {
        isCallPermitted: (id) => !open.has(id),
        onResult: (id, ok) => results.push([id, ok]),
      },
    });
    b.setEndpoints(endpoints(2));
    expect(counts(b, 4)).toEqual({ p2: 4 });
    b.begin('p2')(false);
    b.begin('p2')(false);
    expect(results).toEqual([
      ['p2', false],
      ['p2', false],
    ]);
    expect(b.stats()[1].ejectedForMs).toBe(0); // the gate decides, not the balancer
    open.clear();
    expect(Object.keys(counts(b, 4)).sort()).toEqual(['p1', 'p2']);
  });
});
