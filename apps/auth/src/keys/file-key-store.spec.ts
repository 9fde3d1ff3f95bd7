import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileKeyStore } from './file-key-store';

describe('FileKeyStore', () => {
  let dir: string;
  const stores: FileKeyStore[] = [];
  const open = async (file: string, retireAfterMs = 60_000) => {
    const s = await FileKeyStore.open(file, { retireAfterMs, reloadMs: 20 });
    stores.push(s);
    return s;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auth-keys-'));
  });

  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates the keys at first start into a file only its owner may read', async () => {
    const file = path.join(dir, 'auth', 'signing-keys.json');
    const store = await open(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(json.keys.map((k: { kid: string }) => k.kid)).toEqual([store.current().current().kid]);
    // a restart reads the same keys
    expect((await open(file)).current().current().kid).toBe(store.current().current().kid);
  });

  it('agrees on one key set when instances start together', async () => {
    const file = path.join(dir, 'signing-keys.json');
    const started = await Promise.all([open(file), open(file), open(file)]);
    expect(new Set(started.map((s) => s.current().current().kid)).size).toBe(1);
    expect(fs.readdirSync(dir)).toEqual(['signing-keys.json']);
  });

  it('rotates into the file; another instance follows within its reload interval', async () => {
    const file = path.join(dir, 'signing-keys.json');
    const [a, b] = [await open(file), await open(file)];
    const before = a.current().current().kid;
    const rotated = await a.rotate();
    expect(rotated.current().kid).not.toBe(before);
    expect(rotated.jwks().keys.map((k) => k.kid)).toEqual([before, rotated.current().kid]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const deadline = Date.now() + 2_000;
    while (b.current().current().kid === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(b.current().current().kid).toBe(rotated.current().kid);
  });

  it('drops keys already retired at the next rotation', async () => {
    const file = path.join(dir, 'signing-keys.json');
    const store = await open(file, 1);
    const first = store.current().current().kid;
    await store.rotate();
    await new Promise((r) => setTimeout(r, 5));
    const twice = await store.rotate();
    expect(twice.keys.map((k) => k.kid)).not.toContain(first);
    expect(twice.keys).toHaveLength(2);
  });
});
