/**
 * Leader election on etcd (docs/patterns/coordinator.md, "etcd"): each candidate
 * holds a lease and puts one key under the election's prefix, bound to it; the
 * key with the lowest create revision leads, and that revision is the fencing
 * token (revisions grow across the whole cluster, so a later leader always holds
 * a larger one). Followers watch the prefix and re-read when a key goes.
 * @see https://etcd.io/docs/v3.4/dev-guide/api_concurrency_reference_v3/ (the same algorithm)
 *
 * The leader renews its lease every `renewEveryMs` and counts its lead from the
 * moment it *sent* its last successful renewal, minus a safety margin: past that
 * deadline it deposes itself (`expired`), before etcd can expire the lease and
 * let another lead. Deposed so, it drops its lease (a new campaign gets a new,
 * larger token). Without quorum no renewal succeeds and nobody can be elected:
 * the leader steps down within its TTL and nobody leads until quorum is back.
 */
import { Etcd3, EtcdLeaseInvalidError, isRecoverableError, Lease, Watcher } from 'etcd3';
import { DeposedReason, ElectionStatus } from './leader-election';
import { HeldLead, LeaseElection, LeaderElectionOptions } from './lease-election.base';
import { jittered, unrefTimeout } from '../timers';
import { leaseSeconds } from '../etcd/etcd-target';

const RETRY_MS = 200;
/**
 * What a stop waits for the step in progress, the lease revocations and the watch's
 * cancel: with members just killed or restarted, an etcd call can hang, and a process
 * that stops must not hang with it (an unrevoked lease lapses after its TTL anyway).
 */
const STOP_WAIT_MS = 5_000;

/** `work`, or nothing once `ms` have passed. */
function atMost(ms: number, work: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = unrefTimeout(() => resolve(), ms)));
  return Promise.race([work.catch(() => undefined), late]).finally(() => clearTimeout(timer));
}

interface Session {
  lease: Lease;
  key: string;
  /** When the last successful grant or renewal was sent. */
  renewedAt: number;
}

export class EtcdLeaderElection extends LeaseElection<HeldLead> {
  private session?: Session;
  private abandoned: Lease[] = [];
  private watcher?: Watcher;
  private busy?: Promise<void>;
  private again = false;
  private readonly dir: string;

  constructor(
    name: string,
    private readonly client: Etcd3,
    prefix: string,
    options: LeaderElectionOptions = {},
  ) {
    super(name, options);
    this.dir = `${prefix}/election/${name}/`;
  }

  async start(): Promise<void> {
    if (this.current.status !== ElectionStatus.Stopped) return;
    this.logCampaign('campaigning (etcd)', { leaseSeconds: leaseSeconds(this.ttlMs) });
    this.transition({ status: ElectionStatus.Follower });
    const watcher = await this.client.watch().prefix(this.dir).create();
    this.watcher = watcher;
    watcher.on('delete', () => void this.run(false));
    watcher.on('connected', () => void this.run(false));
    watcher.on('error', () => undefined); // the watch manager reconnects by itself
    await this.run(true);
  }

  async stop(): Promise<void> {
    if (this.current.status === ElectionStatus.Stopped) return;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    const watcher = this.watcher;
    this.watcher = undefined;
    const held = this.held;
    this.held = undefined;
    this.transition({ status: ElectionStatus.Stopped });
    if (this.busy) await atMost(STOP_WAIT_MS, this.busy);
    if (held) this.events.emit('deposed', held.token, 'resigned');
    // revoking the lease deletes the key: the next candidate sees it at once
    const leases = [...this.abandoned, ...(this.session ? [this.session.lease] : [])];
    this.session = undefined;
    this.abandoned = [];
    await atMost(STOP_WAIT_MS, Promise.all(leases.map((l) => l.revoke().catch(() => undefined))));
    if (watcher) await atMost(STOP_WAIT_MS, watcher.cancel());
    if (held) this.logger.info({ election: this.name, token: held.token }, 'resigned');
  }

  /** One step at a time: renew (when due) and read who leads; a call during a step runs once more after it. */
  private run(renew: boolean): Promise<void> {
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    this.busy = (async () => {
      let ok = false;
      try {
        do {
          this.again = false;
          ok = await this.step(renew);
          renew = false;
        } while (this.again && this.current.status !== ElectionStatus.Stopped);
      } finally {
        this.busy = undefined;
      }
      this.schedule(ok);
    })();
    return this.busy;
  }

  private schedule(ok: boolean): void {
    if (this.current.status === ElectionStatus.Stopped) return;
    clearTimeout(this.timer);
    this.timer = unrefTimeout(() => void this.run(true), ok ? jittered(this.renewMs) : RETRY_MS);
  }

  /** False when etcd did not answer (retry soon). */
  private async step(renew: boolean): Promise<boolean> {
    if (this.current.status === ElectionStatus.Stopped) return true;
    try {
      await this.dropAbandoned();
      if (!this.session) await this.openSession();
      else if (renew) await this.renew(this.session);
      if (this.session) await this.readLeader(this.session);
      return true;
    } catch (err) {
      if (err instanceof EtcdLeaseInvalidError) {
        // etcd expired our lease: our key is gone; campaign again with a new one
        this.session = undefined;
        this.depose('lost');
        return false;
      }
      this.logger.debug({ election: this.name, err: (err as Error).message }, 'etcd unreachable');
      this.checkDeadline();
      return false;
    }
  }

  private async openSession(): Promise<void> {
    const sentAt = this.clock.now();
    const lease = this.client.lease(leaseSeconds(this.ttlMs), { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    try {
      const id = await lease.grant();
      const key = `${this.dir}${BigInt(id).toString(16)}`;
      await this.client.put(key).value(this.candidateId).lease(id).exec();
      this.session = { lease, key, renewedAt: sentAt };
    } catch (err) {
      this.abandoned.push(lease);
      throw err;
    }
  }

  private async renew(session: Session): Promise<void> {
    const sentAt = this.clock.now();
    await session.lease.keepaliveOnce({ deadline: Date.now() + this.renewMs });
    session.renewedAt = sentAt;
    if (this.held && this.session === session) {
      this.held.validUntil = sentAt + this.ttlMs - this.marginMs;
      this.armDeadline();
    }
  }

  private async readLeader(session: Session): Promise<void> {
    const res = await this.client
      .getAll()
      .prefix(this.dir)
      .sort('Create', 'Ascend')
      .limit(1)
      .exec();
    if (this.session !== session || this.current.status === ElectionStatus.Stopped) return;
    const first = res.kvs[0];
    if (first && first.key.toString() === session.key) {
      if (this.held || this.checkDeadline()) return;
      const validUntil = session.renewedAt + this.ttlMs - this.marginMs;
      if (this.clock.now() >= validUntil) return; // renew first
      this.becomeLeader({ token: Number(first.create_revision), validUntil });
      return;
    }
    if (this.held) this.depose('lost');
    const leaderId = first?.value.toString();
    if (this.current.status !== ElectionStatus.Follower || this.current.leaderId !== leaderId)
      this.transition({ status: ElectionStatus.Follower, leaderId });
  }

  /** Revokes leases given up earlier, so their keys stop ranking ahead of ours. */
  private async dropAbandoned(): Promise<void> {
    for (const lease of [...this.abandoned]) {
      try {
        await lease.revoke();
      } catch (err) {
        if (isRecoverableError(err as Error)) throw err;
      }
      this.abandoned = this.abandoned.filter((l) => l !== lease);
    }
  }

  protected afterDeposed(_held: HeldLead, reason: DeposedReason): void {
    if (reason === 'expired' && this.session) {
      // give the lease up: if etcd still has it, its key must not keep ranking first
      this.abandoned.push(this.session.lease);
      this.session = undefined;
    }
    this.schedule(false);
  }
}
