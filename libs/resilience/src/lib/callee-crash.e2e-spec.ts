import { HealthRegistry } from '@stayline/observability';
import { CalleeProcess, getJson } from '../testing/callee-process';
import { captureLogs } from '../testing/log-capture';
import { roundRobin } from '../testing/round-robin';
import { BreakerState } from './breaker-state';
import type { AttemptTarget } from './call-options';
import { DependencyPolicy } from './dependency-policy';
import { BreakerOpenError, DependencyUnavailableError } from './errors';

// Fault: the callee crashes (SIGKILL). Connections are refused until it is restarted.
jest.setTimeout(30_000);

describe('a crashed callee (SIGKILL)', () => {
  const callees = new Map<string, CalleeProcess>();
  const policies: DependencyPolicy[] = [];
  const callee = (id: string) => {
    const found = callees.get(id);
    if (!found) throw new Error(`no callee ${id}`);
    return found;
  };
  const attemptOn = (t: AttemptTarget) =>
    getJson<{ instance: string }>(callee(t.endpointId).url(), t.signal);
  const create = (ids: string[]) => {
    const p = DependencyPolicy.create({
      name: 'payment',
      essential: true,
      timeoutMs: 300,
      resetTimeoutMs: 1_000,
      resetJitter: 0,
      selector: roundRobin(ids),
      logger: captureLogs().logger,
      health: new HealthRegistry(),
    });
    policies.push(p);
    return p;
  };

  beforeAll(async () => {
    for (const id of ['payment-1', 'payment-2']) callees.set(id, await CalleeProcess.start(id));
  });

  afterAll(async () => {
    policies.forEach((p) => p.dispose());
    await Promise.all([...callees.values()].map((c) => c.stop()));
  });

  it('opens after 3 refused calls, fails fast while open and closes after a restart', async () => {
    const policy = create(['payment-1']);
    await expect(policy.call({}, attemptOn)).resolves.toMatchObject({ instance: 'payment-1' });
    await callee('payment-1').crash();
    for (let i = 0; i < 3; i++) {
      const error = await policy.call({}, attemptOn).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect((error as Error).message).toContain('ECONNREFUSED');
    }
    expect(policy.state).toBe(BreakerState.Open);
    await expect(policy.call({}, attemptOn)).rejects.toBeInstanceOf(BreakerOpenError);

    await callee('payment-1').restart();
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(policy.call({}, attemptOn)).resolves.toMatchObject({ instance: 'payment-1' });
    expect(policy.state).toBe(BreakerState.Closed);
  });

  it('ejects only the dead endpoint: calls keep flowing to the live one', async () => {
    const policy = create(['payment-1', 'payment-2']);
    await callee('payment-1').crash();
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const outcome = await policy.call({}, attemptOn).catch(() => undefined);
      if (outcome) answers.push(outcome.instance);
    }
    expect(policy.endpoint('payment-1').state).toBe(BreakerState.Open);
    expect(policy.state).toBe(BreakerState.Closed);
    expect(answers.length).toBeGreaterThanOrEqual(9); // 3 calls hit payment-1 before it was ejected
    expect(new Set(answers)).toEqual(new Set(['payment-2']));
  });
});
