import type { NodeAddress } from '@stayline/database';
import type { NodeView, ReplicationView } from '../mariadb/mariadb-admin';
import { PrimaryDetector, PrimaryHealth, PrimaryState } from './primary-detector';

const node = (n: number): NodeAddress => ({
  name: `mariadb-${n}`,
  host: '127.0.0.1',
  port: 3400 + n,
});

/** A fake admin: whether the primary answers, and each replica's replication threads (or unreachable). */
function fakeAdmin() {
  const s = {
    primaryUp: true,
    replicas: new Map<string, Partial<ReplicationView> | 'unreachable' | 'none'>(),
  };
  const admin = {
    ping: jest.fn(async () => {
      if (!s.primaryUp) throw new Error('ECONNREFUSED');
    }),
    view: jest.fn(async (n: NodeAddress): Promise<NodeView> => {
      const r = s.replicas.get(n.name) ?? {};
      if (r === 'unreachable') throw new Error('no answer');
      return {
        name: n.name,
        readOnly: true,
        serverId: 0,
        binlogPos: '',
        binlogState: '',
        slavePos: '',
        replication:
          r === 'none'
            ? undefined
            : {
                masterHost: '127.0.0.1',
                masterPort: 3401,
                io: 'Yes',
                sql: 'Yes',
                receivedPos: '',
                lastIoError: '',
                ...r,
              },
        semiSync: { enabled: false, active: false, clients: 0, waitSessions: 0, noTx: 0 },
      };
    }),
  };
  return { s, admin };
}

function detector(admin: ReturnType<typeof fakeAdmin>['admin']) {
  const d = new PrimaryDetector({ admin, failures: 3 });
  d.target(node(1), [node(2), node(3)]);
  const seen: PrimaryState[] = [];
  d.on('transition', (state) => seen.push(state));
  return { d, seen };
}

describe('PrimaryDetector', () => {
  it('declares a primary dead after the threshold of failed probes once the replicas lost it too', async () => {
    const { s, admin } = fakeAdmin();
    const { d, seen } = detector(admin);
    expect((await d.probe()).health).toBe(PrimaryHealth.Up);
    s.primaryUp = false;
    s.replicas.set('mariadb-2', { io: 'Connecting' });
    s.replicas.set('mariadb-3', { io: 'Connecting' });
    expect((await d.probe()).health).toBe(PrimaryHealth.Suspect);
    expect((await d.probe()).health).toBe(PrimaryHealth.Suspect);
    expect(admin.view).not.toHaveBeenCalled(); // replicas are asked only past the threshold
    const dead = await d.probe();
    expect(dead).toMatchObject({
      health: PrimaryHealth.Dead,
      failures: 3,
      replicas: {
        'mariadb-2': 'lost (IO thread Connecting)',
        'mariadb-3': 'lost (IO thread Connecting)',
      },
    });
    await d.probe();
    expect(seen.map((x) => x.health)).toEqual(['up', 'suspect', 'dead']); // one event per change
  });

  it('does not declare a primary dead while a replica is still connected to it (the agent is cut off)', async () => {
    const { s, admin } = fakeAdmin();
    const { d } = detector(admin);
    s.primaryUp = false;
    s.replicas.set('mariadb-2', { io: 'Yes' });
    s.replicas.set('mariadb-3', { io: 'Connecting' });
    for (let i = 0; i < 5; i++) await d.probe();
    expect(d.state).toMatchObject({
      health: PrimaryHealth.Unconfirmed,
      replicas: { 'mariadb-2': 'connected' },
    });
    s.primaryUp = true;
    expect((await d.probe()).health).toBe(PrimaryHealth.Up);
  });

  it('cannot confirm with no replica reachable: the agent may be the one isolated', async () => {
    const { s, admin } = fakeAdmin();
    const { d } = detector(admin);
    s.primaryUp = false;
    s.replicas.set('mariadb-2', 'unreachable');
    s.replicas.set('mariadb-3', 'unreachable');
    for (let i = 0; i < 4; i++) await d.probe();
    expect(d.state.health).toBe(PrimaryHealth.Unconfirmed);
  });

  it('counts a replica already promoted, or repointed elsewhere, as having lost the primary', async () => {
    const { s, admin } = fakeAdmin();
    const { d } = detector(admin);
    s.primaryUp = false;
    s.replicas.set('mariadb-2', 'none');
    s.replicas.set('mariadb-3', { masterPort: 3402 });
    for (let i = 0; i < 3; i++) await d.probe();
    expect(d.state).toMatchObject({
      health: PrimaryHealth.Dead,
      replicas: {
        'mariadb-2': 'lost (not replicating)',
        'mariadb-3': 'lost (replicates from 127.0.0.1:3402)',
      },
    });
  });

  it('starts over when the topology names another primary', async () => {
    const { s, admin } = fakeAdmin();
    const { d } = detector(admin);
    s.primaryUp = false;
    await d.probe();
    d.target(node(2), [node(3)]);
    expect(d.state).toEqual({ health: PrimaryHealth.Unknown, primary: 'mariadb-2' });
  });
});
