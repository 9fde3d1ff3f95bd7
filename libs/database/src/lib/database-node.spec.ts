import net from 'node:net';
import { DatabaseNode } from './database-node';
import { isNodeFailure, TopologyChangedError } from './errors';

/**
 * A host that takes TCP connections and never says a word: what a client meets
 * on a frozen MariaDB, and (once its SYN is dropped) on a container that
 * vanished. A connect to it ends only with the connect timeout.
 */
async function silentHost(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const CONNECT_TIMEOUT_MS = 2_000;

describe('DatabaseNode on a host that never answers', () => {
  let host: Awaited<ReturnType<typeof silentHost>>;
  let node: DatabaseNode;

  beforeEach(async () => {
    host = await silentHost();
    node = new DatabaseNode(
      { name: 'mariadb-1', host: '127.0.0.1', port: host.port },
      (n, driver) => ({
        type: 'mariadb',
        driver,
        host: n.host,
        port: n.port,
        username: 'nobody',
        password: 'nothing',
        database: 'none',
        connectTimeout: CONNECT_TIMEOUT_MS,
      }),
    );
  });

  afterEach(async () => {
    await node.close(0);
    await host.close();
  });

  it('turns a write waiting for its connection away at once when the node stops being the primary', async () => {
    let ran = false;
    const write = node.run(
      'master',
      async () => {
        ran = true;
      },
      10_000,
      true,
    );
    const outcome = write.then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 200)); // it is connecting now
    const at = performance.now();
    expect(node.abortWrites()).toBe(1);
    const err = await outcome;
    const tookMs = performance.now() - at;

    expect(err).toBeInstanceOf(TopologyChangedError);
    // a node failure with nothing sent: the writer moves it to the new primary
    expect(isNodeFailure(err)).toBe(true);
    expect(tookMs).toBeLessThan(CONNECT_TIMEOUT_MS / 10);
    expect(ran).toBe(false);
    expect(node.abortWrites()).toBe(0); // nothing left behind
  });

  it('leaves a read waiting for its connection alone (it ends by its own deadline)', async () => {
    const read = node.run('slave', async () => 'never', 600);
    const outcome = read.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(node.abortWrites()).toBe(0);
    const err = await outcome;
    expect(err?.name).toBe('QueryTimeoutError');
  });
});
