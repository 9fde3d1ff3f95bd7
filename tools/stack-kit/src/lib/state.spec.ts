import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentialsFromEnv } from './credentials';
import { DATA_DIR_MODE, dataDir, initDataDir, MariaDbNode } from './mariadb';
import { readState, STATE_FILE, STATE_FILE_MODE, StackState, writeState } from './state';

const modeOf = (p: string) => fs.statSync(p).mode & 0o777;

describe('files of the native stack that hold passwords', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-state-spec-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const state = (): StackState => ({
    version: 1,
    stateDir: path.join(dir, '.stack'),
    startedAt: new Date(0).toISOString(),
    credentials: credentialsFromEnv({}),
    components: [],
  });

  it('writes state.json (the credentials) readable by its owner only, whatever the umask', () => {
    expect(STATE_FILE_MODE).toBe(0o600);
    const previous = process.umask(0); // the most permissive umask there is
    try {
      writeState(state());
    } finally {
      process.umask(previous);
    }
    const file = path.join(dir, '.stack', STATE_FILE);
    expect(modeOf(file).toString(8)).toBe('600');
    expect(readState(path.join(dir, '.stack'))?.credentials.app.password).toBe('dev-only-db-kit');
    // no temporary file left beside it
    expect(fs.readdirSync(path.join(dir, '.stack'))).toEqual([STATE_FILE]);
  });

  it('replaces a state.json that others could read with one they cannot, and a stale temporary file too', () => {
    const stateDir = path.join(dir, '.stack');
    fs.mkdirSync(stateDir);
    const file = path.join(stateDir, STATE_FILE);
    fs.writeFileSync(file, '{}', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, 'left over', { mode: 0o666 });
    fs.chmodSync(tmp, 0o666);
    writeState(state());
    expect(modeOf(file).toString(8)).toBe('600');
    expect(fs.existsSync(tmp)).toBe(false);
  });

  it('keeps a MariaDB data directory (master.info holds the replication password) to its owner', async () => {
    const source: MariaDbNode = {
      name: 'mariadb-1',
      host: '127.0.0.1',
      port: 1,
      serverId: 1,
      dir: path.join(dir, 'mariadb-1'),
    };
    fs.mkdirSync(dataDir(source), { recursive: true });
    fs.chmodSync(dataDir(source), 0o755);
    fs.writeFileSync(path.join(dataDir(source), 'master.info'), 'repl password');
    const copy = { ...source, name: 'mariadb-2', serverId: 2, dir: path.join(dir, 'mariadb-2') };
    await initDataDir(copy, source);
    expect(DATA_DIR_MODE).toBe(0o700);
    expect(modeOf(dataDir(copy)).toString(8)).toBe('700');
    expect(fs.readFileSync(path.join(dataDir(copy), 'master.info'), 'utf8')).toBe('repl password');
  });
});
