import fs from 'node:fs';
import path from 'node:path';

/** The system binaries the native stack runs, and the Debian package that carries each. */
export const BINARIES = {
  mariadbd: 'mariadb-server',
  'mariadb-install-db': 'mariadb-server',
  'redis-server': 'redis-server',
  'redis-sentinel': 'redis-sentinel',
  nginx: 'nginx',
  etcd: 'etcd-server',
  prometheus: 'prometheus',
} as const;

export type Binary = keyof typeof BINARIES;

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export class MissingBinaryError extends Error {
  constructor(readonly binary: Binary) {
    super(
      `'${binary}' was not found. Install the Debian/Ubuntu package '${BINARIES[binary]}' ` +
        `(all of them at once: sudo infra/install-deps.sh, or as root bash infra/install-deps.sh).`,
    );
  }
}

/** Absolute path of a binary, looked up on PATH and the sbin directories. */
export function which(binary: Binary): string {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH];
  for (const dir of dirs) {
    const candidate = path.join(dir, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  throw new MissingBinaryError(binary);
}
