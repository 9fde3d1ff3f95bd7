import { parseGtidList } from '@stayline/contracts';
import { LagMonitor } from './lag-monitor';
import { NodeProbe, ReplicaStatus } from './node-probe';
import { ReplicaHealth, ReplicaTransition } from './replica-state';
import { NodeAddress } from './topology';

const pos = (t: string) => parseGtidList(t) ?? new Map();
const node = (name: string): NodeAddress => ({ name, host: '127.0.0.1', port: 1 });

/** Fake nodes whose answers the test sets. */
class FakeCluster {
  primaryPos = '0-1-1';
  replicas = new Map<string, ReplicaStatus | Error>();
  closed: string[] = [];
  probeFor = (n: NodeAddress): NodeProbe => ({
    primary: async () => ({ position: pos(this.primaryPos), readOnly: false }),
    replica: async () => {
      const s = this.replicas.get(n.name);
      if (s instanceof Error) throw s;
      if (!s) throw new Error(`no fake for ${n.name}`);
      return s;
    },
    close: () => this.closed.push(n.name),
  });
  set(name: string, position: string, sqlRunning = true): void {
    this.replicas.set(name, { position: pos(position), sqlRunning, ioRunning: true });
  }
}

function setup() {
  const cluster = new FakeCluster();
  let now = 0;
  const monitor = new LagMonitor({
    maxLagMs: 1000,
    intervalMs: 100,
    probeFor: cluster.probeFor,
    clock: () => now,
  });
  monitor.setTopology(node('p'), [node('r1'), node('r2')]);
  const transitions: ReplicaTransition[] = [];
  monitor.on('transition', (t) => transitions.push(t));
  return { cluster, monitor, transitions, advance: (ms: number) => (now += ms) };
}

describe('LagMonitor', () => {
  it('classifies replicas as usable, lagging, stopped or unreachable, with an event per transition', async () => {
    const { cluster, monitor, transitions, advance } = setup();
    cluster.set('r1', '0-1-1');
    cluster.set('r2', '0-1-1');
    await monitor.probe();
    expect(monitor.replicas().map((r) => r.state?.health)).toEqual([
      ReplicaHealth.Usable,
      ReplicaHealth.Usable,
    ]);

    cluster.primaryPos = '0-1-5';
    advance(100);
    await monitor.probe(); // the primary moved; r1 catches up, r2 does not
    cluster.set('r1', '0-1-5');
    advance(1200);
    await monitor.probe();
    expect(monitor.replica('r1')?.health).toBe(ReplicaHealth.Usable);
    const r2 = monitor.replica('r2');
    expect(r2?.health).toBe(ReplicaHealth.Lagging);
    expect(r2 && 'lagMs' in r2 ? r2.lagMs : -1).toBe(1200);

    cluster.set('r2', '0-1-5', false);
    cluster.replicas.set('r1', new Error('connect ETIMEDOUT'));
    await monitor.probe();
    expect(monitor.replica('r2')?.health).toBe(ReplicaHealth.Stopped);
    expect(monitor.replica('r1')?.health).toBe(ReplicaHealth.Unreachable);
    expect(transitions.map((t) => `${t.replica}:${t.from ?? '-'}>${t.to.health}`)).toEqual([
      'r1:->usable',
      'r2:->usable',
      'r2:usable>lagging',
      'r1:usable>unreachable',
      'r2:lagging>stopped',
    ]);
  });

  it('counts a stopped SQL thread as stopped even with nothing pending (Seconds_Behind_Master would say 0)', async () => {
    const { cluster, monitor } = setup();
    cluster.set('r1', '0-1-1', false);
    cluster.set('r2', '0-1-1');
    await monitor.probe();
    expect(monitor.replica('r1')).toMatchObject({ health: ReplicaHealth.Stopped, lagMs: 0 });
  });

  it('takes a replica out at once when a read on it fails, and brings it back on the next good probe', async () => {
    const { cluster, monitor } = setup();
    cluster.set('r1', '0-1-1');
    cluster.set('r2', '0-1-1');
    await monitor.probe();
    monitor.markUnreachable('r1', new Error('read ECONNRESET'));
    expect(monitor.replica('r1')?.health).toBe(ReplicaHealth.Unreachable);
    await monitor.probe();
    expect(monitor.replica('r1')?.health).toBe(ReplicaHealth.Usable);
  });

  it('knows which replica has applied a token already', async () => {
    const { cluster, monitor } = setup();
    cluster.set('r1', '0-1-7');
    cluster.set('r2', '0-1-3');
    await monitor.probe();
    expect(monitor.hasApplied('r1', pos('0-1-5'))).toBe(true);
    expect(monitor.hasApplied('r2', pos('0-1-5'))).toBe(false);
  });

  it('forgets dropped nodes and closes their probes on a topology change; a new primary resets the history', async () => {
    const { cluster, monitor, advance } = setup();
    cluster.set('r1', '0-1-1');
    cluster.set('r2', '0-1-1');
    cluster.primaryPos = '0-1-9';
    await monitor.probe();
    advance(5000);
    monitor.setTopology(node('r1'), [node('r2')]);
    expect(cluster.closed).toEqual(['p']);
    expect(monitor.replicas().map((r) => r.name)).toEqual(['r2']);
    cluster.primaryPos = '0-1-1'; // the new primary, r1, as fake
    await monitor.probe();
    expect(monitor.replica('r2')).toMatchObject({ health: ReplicaHealth.Usable, lagMs: 0 });
    expect(monitor.primary()).toMatchObject({ name: 'r1', reachable: true });
    monitor.stop();
  });
});
