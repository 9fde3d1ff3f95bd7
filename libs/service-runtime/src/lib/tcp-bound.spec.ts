import net from 'node:net';
import { Controller, INestApplication, Logger, Module } from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Payload } from '@nestjs/microservices';
import { Transport } from '@nestjs/microservices';
import { TCP_FRAMING, TCP_MAX_MESSAGE_CHARS } from '@stayline/contracts';
import { freePorts } from '@stayline/stack-kit';
import { firstValueFrom } from 'rxjs';
import { bootstrapService } from './bootstrap';

@Controller()
class EchoController {
  @MessagePattern('demo.echo')
  echo(@Payload() data: unknown) {
    return data;
  }

  /** A reply of `chars` characters: what a misbehaving callee could send back. */
  @MessagePattern('demo.blob')
  blob(@Payload() data: { chars: number }) {
    return 'y'.repeat(data.chars);
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

/** `<length>#<json>`: one frame as Nest's TCP transport writes it. */
const frame = (message: unknown) => {
  const json = JSON.stringify(message);
  return `${json.length}#${json}`;
};

/** A raw connection that collects every reply frame and how the connection ended. */
class RawPeer {
  readonly socket: net.Socket;
  readonly replies: Array<{ id: string; response?: unknown; err?: unknown }> = [];
  readonly closed: Promise<void>;
  private buffer = '';

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('error', () => undefined); // a reset is one way the bound shows
    this.socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (;;) {
        const hash = this.buffer.indexOf('#');
        if (hash < 0) return;
        const length = Number(this.buffer.slice(0, hash));
        if (this.buffer.length < hash + 1 + length) return;
        this.replies.push(JSON.parse(this.buffer.slice(hash + 1, hash + 1 + length)));
        this.buffer = this.buffer.slice(hash + 1 + length);
      }
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  /** Writes without waiting for the peer to read: a sender that ignores backpressure. */
  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  async reply(id: string, timeoutMs = 5_000): Promise<{ response?: unknown; err?: unknown }> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.replies.find((r) => r.id === id);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no reply to ${id} within ${timeoutMs} ms`);
  }
}

jest.setTimeout(30_000);

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('TCP between services is bounded (TCP_MAX_MESSAGE_CHARS)', () => {
  let app: INestApplication;
  let tcpPort: number;
  const peers: RawPeer[] = [];
  const peer = async () => {
    const p = new RawPeer(tcpPort);
    peers.push(p);
    await p.connected();
    return p;
  };

  beforeAll(async () => {
    // the server and client log the refused frames; the assertions say what happened
    Logger.overrideLogger(false);
    const [httpPort, tcp] = await freePorts(2);
    tcpPort = tcp;
    app = await bootstrapService({
      module: EchoModule,
      host: '127.0.0.1',
      httpPort,
      tcpPort,
      logger: () => undefined,
    });
    app.useLogger(false);
  });

  afterAll(async () => {
    for (const p of peers) p.socket.destroy();
    await app?.close();
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']);
  });

  it('is one constant of 1 Mi characters, the option every server and client is given', () => {
    expect(TCP_MAX_MESSAGE_CHARS).toBe(1024 * 1024);
    expect(TCP_FRAMING).toEqual({ maxBufferSize: TCP_MAX_MESSAGE_CHARS });
  });

  it('closes a connection that sends a frame over the bound, and still answers the others', async () => {
    const bystander = await peer();
    const attacker = await peer();
    // announce 4 Mi characters and start sending them, 64 Ki at a time, never waiting
    const payload = 'x'.repeat(64 * 1024);
    attacker.write(`${4 * TCP_MAX_MESSAGE_CHARS}#{"pattern":"demo.echo","id":"big","data":"`);
    for (let sent = 0; sent < 2 * TCP_MAX_MESSAGE_CHARS && !attacker.socket.destroyed;) {
      attacker.write(payload);
      sent += payload.length;
    }
    // the server closes the connection long before the announced frame could be complete
    await within(attacker.closed, 10_000, 'the oversized sender disconnected');
    expect(attacker.replies).toEqual([]);

    // a connection open all along is still served
    bystander.write(frame({ pattern: 'demo.echo', id: 'b1', data: { hello: 'bystander' } }));
    expect(await bystander.reply('b1')).toMatchObject({ response: { hello: 'bystander' } });

    // and so is a new one, from the same address
    const next = await peer();
    next.write(frame({ pattern: 'demo.echo', id: 'n1', data: { hello: 'again' } }));
    expect(await next.reply('n1')).toMatchObject({ response: { hello: 'again' } });
  });

  it('takes a message just under the bound whole', async () => {
    const p = await peer();
    const data = 'z'.repeat(TCP_MAX_MESSAGE_CHARS - 1_024);
    p.write(frame({ pattern: 'demo.echo', id: 'near', data }));
    const reply = await p.reply('near', 10_000);
    expect((reply.response as string).length).toBe(data.length);
  });

  it('closes the same way a frame that announces a bounded length but sends more in one go', async () => {
    const p = await peer();
    // a frame that is long, but whose announced length is honest and over the bound
    p.write(frame({ pattern: 'demo.echo', id: 'over', data: 'w'.repeat(TCP_MAX_MESSAGE_CHARS) }));
    await within(p.closed, 10_000, 'the oversized sender disconnected');
    expect(p.replies).toEqual([]);
  });

  it('bounds the client too: a reply over the bound fails the call, a normal one is answered', async () => {
    const client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: tcpPort, ...TCP_FRAMING },
    });
    try {
      await expect(firstValueFrom(client.send('demo.blob', { chars: 100 }))).resolves.toHaveLength(
        100,
      );
      await expect(
        within(
          firstValueFrom(client.send('demo.blob', { chars: 2 * TCP_MAX_MESSAGE_CHARS })),
          10_000,
          'the oversized reply refused',
        ),
      ).rejects.toBeDefined();
      // the client connects again for the next call
      await expect(firstValueFrom(client.send('demo.echo', { after: 'refusal' }))).resolves.toEqual(
        { after: 'refusal' },
      );
    } finally {
      client.close();
    }
  });
});
