import fs from 'node:fs';
import path from 'node:path';
import { SigningKeySet, SigningKeySetJson } from '@stayline/identity';
import type { KeyStore } from './key-store';

export interface FileKeyStoreOptions {
  /** How long a replaced key stays published: the token lifetime and the verifiers' clock tolerance. */
  retireAfterMs: number;
  /** How often the file is checked for another instance's rotation. */
  reloadMs: number;
  now?: () => number;
  /** Told of a reload or a failed one. */
  log?: (message: string) => void;
}

/**
 * Signing keys in a state file, mode 0600 in a 0700 directory: private keys
 * never leave it but for the process's memory. The first instance to start
 * generates the file (an exclusive link, so two instances starting together
 * agree on one set); a rotation writes a new file and renames it into place;
 * every instance re-reads the file when it changes.
 */
export class FileKeyStore implements KeyStore {
  readonly source: string;
  private timer?: NodeJS.Timeout;
  private stamp: string;

  private constructor(
    private readonly file: string,
    private set: SigningKeySet,
    private readonly o: FileKeyStoreOptions,
  ) {
    this.source = file;
    this.stamp = stampOf(file);
    const jitter = Math.floor(Math.random() * Math.min(250, o.reloadMs / 4));
    this.timer = setInterval(() => void this.reloadIfChanged(), o.reloadMs + jitter);
    this.timer.unref();
  }

  static async open(file: string, o: FileKeyStoreOptions): Promise<FileKeyStore> {
    const now = o.now ?? Date.now;
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (!fs.existsSync(file)) {
      const fresh = await SigningKeySet.generate(now());
      if (writeExclusive(file, fresh.toJSON()))
        o.log?.(`signing keys: generated ${fresh.current().kid} into ${file}`);
    }
    return new FileKeyStore(file, await read(file), o);
  }

  current(): SigningKeySet {
    return this.set;
  }

  async rotate(): Promise<SigningKeySet> {
    const now = (this.o.now ?? Date.now)();
    const latest = await read(this.file);
    const next = await latest.pruned(now).rotated(this.o.retireAfterMs, now);
    writeReplacing(this.file, next.toJSON());
    this.set = next;
    this.stamp = stampOf(this.file);
    return next;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async reloadIfChanged(): Promise<void> {
    const stamp = stampOf(this.file);
    if (stamp === this.stamp) return;
    try {
      this.set = await read(this.file);
      this.stamp = stamp;
      this.o.log?.(`signing keys reloaded from ${this.file}: ${this.set.current().kid} signs`);
    } catch (err) {
      this.o.log?.(
        `signing keys: ${this.file} unreadable, keeping the last set (${(err as Error).message})`,
      );
    }
  }
}

function stampOf(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.ino}:${s.mtimeMs}:${s.size}`;
  } catch {
    return 'missing';
  }
}

async function read(file: string): Promise<SigningKeySet> {
  return SigningKeySet.fromJSON(JSON.parse(fs.readFileSync(file, 'utf8')) as SigningKeySetJson);
}

function writeTemp(file: string, json: SigningKeySetJson): string {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return tmp;
}

/** Writes the file only if none exists (true when this call wrote it): the first writer wins. */
function writeExclusive(file: string, json: SigningKeySetJson): boolean {
  const tmp = writeTemp(file, json);
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Replaces the file in one step: a reader sees the old set or the new one, never half of one. */
function writeReplacing(file: string, json: SigningKeySetJson): void {
  fs.renameSync(writeTemp(file, json), file);
}
