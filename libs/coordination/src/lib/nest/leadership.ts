import { Inject, Injectable } from '@nestjs/common';
import { CoordinationBackend } from '../backend/coordination-backend';
import { ElectionState, LeaderElection } from '../election/leader-election';
import { LeaderElectionOptions } from '../election/lease-election.base';
import { COORDINATION_BACKEND } from './coordination.options';

/**
 * The elections this instance campaigns in, by name (docs/patterns/coordinator.md).
 * A use case acts only while `election(name).token` is defined, and passes the
 * token to whatever it changes (SQL: `WHERE fence_token <= ?`).
 */
@Injectable()
export class Leadership {
  private readonly elections = new Map<string, LeaderElection>();

  constructor(@Inject(COORDINATION_BACKEND) private readonly backend: CoordinationBackend) {}

  /** The election `name`; created and started on first use. */
  election(name: string, options?: LeaderElectionOptions): LeaderElection {
    let e = this.elections.get(name);
    if (!e) {
      e = this.backend.election(name, options);
      this.elections.set(name, e);
      void e.start().catch(() => undefined); // it keeps campaigning; failures are logged by the election
    }
    return e;
  }

  /** Every election's state, for health details. */
  states(): Record<string, ElectionState> {
    return Object.fromEntries([...this.elections].map(([name, e]) => [name, e.state]));
  }

  /** Resigns everywhere (shutdown): successors take over at once instead of after the TTL. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.elections.values()].map((e) => e.stop()));
  }
}
