import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeStonith } from './native.stonith';

const node = { name: 'mariadb-1', host: '127.0.0.1', port: 34567 };

/** A stand-in process whose command line reads like the node's mariadbd. */
function fakeMariadbd(port: number) {
  return spawn('sh', ['-c', 'sleep 60; true', 'mariadbd', `--port=${port}`], { stdio: 'ignore' });
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function stateFile(pid: number | undefined): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stonith-'));
  dirs.push(dir);
  const file = path.join(dir, 'state.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ components: [{ name: 'mariadb-1', kind: 'mariadb', pid }] }),
  );
  return file;
}

describe('NativeStonith', () => {
  it('SIGKILLs a frozen (SIGSTOPped) node and waits until it is gone', async () => {
    const child = fakeMariadbd(node.port);
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid as number, 'SIGSTOP');
    const outcome = await new NativeStonith(stateFile(child.pid)).stop(node);
    expect(outcome).toEqual({ result: 'stopped', detail: `SIGKILL to pid ${child.pid}` });
    await exited;
  });

  it('never shoots a pid that is not the node (a recycled pid)', async () => {
    const child = fakeMariadbd(node.port + 1); // another port: not this node
    try {
      await expect(new NativeStonith(stateFile(child.pid)).stop(node)).rejects.toThrow(
        /is not mariadb-1/,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('reports a node with no process as already down', async () => {
    await expect(new NativeStonith(stateFile(undefined)).stop(node)).resolves.toMatchObject({
      result: 'already-down',
    });
  });
});
