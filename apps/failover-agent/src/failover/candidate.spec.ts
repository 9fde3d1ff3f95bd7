import type { NodeView } from '../mariadb/mariadb-admin';
import { chooseCandidate, heldPosition, missingFrom } from './candidate';

const semiSync = { enabled: false, active: false, clients: 0, waitSessions: 0, noTx: 0 };
const replica = (name: string, applied: string, received: string): NodeView => ({
  name,
  readOnly: true,
  serverId: Number(name.slice(-1)),
  binlogPos: applied,
  slavePos: applied,
  binlogState: applied,
  replication: {
    masterHost: '127.0.0.1',
    masterPort: 3407,
    io: 'Connecting',
    sql: 'Yes',
    receivedPos: received,
    lastIoError: '',
  },
  semiSync,
});
const promoted = (name: string, logged: string): NodeView => ({
  ...replica(name, logged, logged),
  replication: undefined,
});

describe('chooseCandidate', () => {
  it('counts what a replica received but has not applied yet', () => {
    expect([...heldPosition(replica('mariadb-2', '0-1-10', '0-1-14')).values()][0].seq).toBe(14n);
    expect([...heldPosition(promoted('mariadb-2', '0-1-14')).values()][0].seq).toBe(14n);
  });

  it('promotes the replica that received the most, applied or not', () => {
    const choice = chooseCandidate([
      replica('mariadb-2', '0-1-40', '0-1-41'),
      replica('mariadb-3', '0-1-38', '0-1-42'),
    ]);
    expect(choice?.chosen.name).toBe('mariadb-3');
    expect(choice?.reason).toBe('most-advanced');
    expect(choice?.positions).toEqual({ 'mariadb-2': '0-1-41', 'mariadb-3': '0-1-42' });
  });

  it('breaks a tie by name, so every agent makes the same choice', () => {
    const views = [replica('mariadb-3', '0-1-9', '0-1-9'), replica('mariadb-2', '0-1-9', '0-1-9')];
    expect(chooseCandidate(views)?.chosen.name).toBe('mariadb-2');
  });

  it('keeps the candidate a dead leader already chose, even if another now looks as far', () => {
    const views = [promoted('mariadb-3', '0-1-50'), replica('mariadb-2', '0-1-50', '0-1-50')];
    const choice = chooseCandidate(views, 'mariadb-3');
    expect(choice).toMatchObject({ reason: 'resumed' });
    expect(choice?.chosen.name).toBe('mariadb-3');
  });

  it('compares every replication domain', () => {
    const views = [
      replica('mariadb-2', '0-1-10,1-1-5', '0-1-10,1-1-5'),
      replica('mariadb-3', '0-1-10', '0-1-11'),
    ];
    expect(chooseCandidate(views)).toMatchObject({ reason: 'diverged-highest-sum' });
    expect(chooseCandidate(views)?.chosen.name).toBe('mariadb-2');
    expect(chooseCandidate([])).toBeUndefined();
  });
});

describe('missingFrom', () => {
  it("finds nothing missing when the primary logged every server's transactions up to the node's", () => {
    // the old primary (server 1) stopped at 0-1-100; the new one (server 2) went on
    expect(missingFrom('0-1-100,0-2-140', '0-1-100')).toEqual([]);
    expect(missingFrom('0-1-100,0-2-140', '0-1-90,0-2-3')).toEqual([]);
    expect(missingFrom('0-1-5', '')).toEqual([]);
  });

  it('names what the node logged and the primary never did', () => {
    // 0-1-101 was logged by the old primary and never acknowledged: the new one numbered on as 0-2-101
    expect(missingFrom('0-1-100,0-2-101', '0-1-101')).toEqual(['0-1-101']);
    // a domain or server the primary never saw
    expect(missingFrom('0-1-100', '0-1-100,1-3-7')).toEqual(['1-3-7']);
    expect(missingFrom('', '0-1-1')).toEqual(['0-1-1']);
  });
});
