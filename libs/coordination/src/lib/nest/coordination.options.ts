import { CoordinationBackend } from '../backend/coordination-backend';
import { LeaderElectionOptions } from '../election/lease-election.base';
import { FlagValue } from '../flags/flag-value';
import { RedisTarget } from '../redis/redis-target';

/** Options of CoordinationModule.forRoot / forRootAsync. See docs/patterns/coordinator.md. */
export interface CoordinationModuleOptions {
  /** Names the logger when the app provides none (OBSERVABILITY_LOGGER). */
  service: string;
  /** The coordinator's Redis (through Sentinel in every real setup), when no `backend` is given. */
  redis?: RedisTarget;
  /** The backend of flags, elections and locks (see createCoordinationBackend). Default: Redis at `redis`. */
  backend?: CoordinationBackend;
  /** Flag values used until the store answers. */
  flagDefaults?: Record<string, FlagValue>;
  /** Elections this instance campaigns in from bootstrap on (more with `Leadership.election()`). */
  elections?: Record<string, LeaderElectionOptions>;
}

export const COORDINATION_OPTIONS = Symbol('COORDINATION_OPTIONS');
/** The CoordinationBackend (inject with `@Inject(COORDINATION_BACKEND)`). */
export const COORDINATION_BACKEND = Symbol('COORDINATION_BACKEND');
export const COORDINATION_LOGGER = Symbol('COORDINATION_LOGGER');
