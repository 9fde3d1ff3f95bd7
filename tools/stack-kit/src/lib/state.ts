import fs from 'node:fs';
import path from 'node:path';
import { StackCredentials } from './credentials';
import { ProcessSpec } from './process';

/** The kinds of process in the status contract (ARCHITECTURE "The status contract"). */
export type ComponentKind =
  'mariadb' | 'redis' | 'sentinel' | 'etcd' | 'nginx' | 'service' | 'agent';

/** One process of the stack, as recorded in `<stateDir>/state.json`. */
export interface Component {
  name: string;
  kind: ComponentKind;
  /** The role the launcher gave it; `status()` reports the role observed now. */
  role: string;
  host: string;
  /** The main port. */
  port: number;
  /** Every port, by name. */
  ports: Record<string, number>;
  pid?: number;
  /** Its own directory for data, logs and pid files. */
  dir: string;
  spec: ProcessSpec;
  /** Kind-specific facts (MariaDB server id, service name...). */
  meta?: Record<string, string | number | boolean>;
}

export interface StackState {
  version: 1;
  stateDir: string;
  startedAt: string;
  credentials: StackCredentials;
  components: Component[];
}

export const STATE_FILE = 'state.json';

/** The state file holds the stack's passwords (its credentials, each service's environment): its owner's alone. */
export const STATE_FILE_MODE = 0o600;

export function readState(stateDir: string): StackState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(stateDir, STATE_FILE), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/**
 * Writes atomically, so a reader never sees half a file, and readable by its
 * owner only ({@link STATE_FILE_MODE}) from the first byte: the file is created
 * with that mode, whatever the umask, and replaces one that had another.
 */
export function writeState(state: StackState): void {
  fs.mkdirSync(state.stateDir, { recursive: true });
  const file = path.join(state.stateDir, STATE_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true }); // a left-over keeps its mode: start from a new file
  fs.writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: STATE_FILE_MODE, flag: 'wx' });
  fs.chmodSync(tmp, STATE_FILE_MODE);
  fs.renameSync(tmp, file);
}
