import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(60_000);
const run = promisify(execFile);
const root = path.resolve(__dirname, '../../..');

// Containers run the compiled output of `npm run build`; it must run without a compiler.
describe('npm run build', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-build-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('compiles the entry points to plain JavaScript that runs', async () => {
    const built = await run(process.execPath, [path.join(root, 'scripts/build.cjs'), out]);
    expect(built.stdout).toMatch(/compiled \d+ files/);
    expect(fs.existsSync(path.join(out, 'infra/launcher/src/cluster-init.js'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'libs/gateway/src/nginx.conf.template'))).toBe(true);
    const emptyState = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-build-state-'));
    const status = await run(
      process.execPath,
      [path.join(out, 'infra/launcher/src/cli.js'), 'status', '--json'],
      {
        env: {
          ...process.env,
          STAYLINE_STATE_DIR: emptyState,
          NODE_PATH: path.join(root, 'node_modules'),
        },
      },
    ).catch((e: { stdout: string; code: number }) => e);
    expect(JSON.parse(status.stdout)).toEqual({ components: [] });
    fs.rmSync(emptyState, { recursive: true, force: true });
  });
});
