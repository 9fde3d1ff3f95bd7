import net from 'node:net';

/**
 * Free loopback ports for a stack. Ports are drawn at random from a range
 * below Linux's ephemeral range (32768+), so an outgoing connection cannot
 * grab one between the check and the server's bind.
 */
const LOW = 20000;
const HIGH = 32000;
const taken = new Set<number>();

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Reserves `count` distinct free ports (within this process, never the same twice). */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 10_000) throw new Error('could not find free loopback ports');
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (taken.has(port)) continue;
    if ((await isPortFree(port)) && (await isPortFree(port, '0.0.0.0'))) {
      taken.add(port);
      ports.push(port);
    }
  }
  return ports;
}
