import {
  Body,
  Controller,
  Get,
  INestApplication,
  Module,
  NotFoundException,
  Post,
} from '@nestjs/common';
import { ClientProxyFactory, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { TCP_FRAMING } from '@stayline/contracts';
import { freePorts } from '@stayline/stack-kit';
import { IsInt, IsString, Max, Min } from 'class-validator';
import { firstValueFrom } from 'rxjs';
import { z } from 'zod';
import { generateKeyPairSync } from 'node:crypto';
import {
  bootstrapService,
  CallableBy,
  ConfigError,
  loadConfig,
  MessageAuth,
  port,
  withCallContext,
} from '../index';

class BookDto {
  @IsString() listingId!: string;
  @IsInt() @Min(1) @Max(8) guests!: number;
}

@Controller('api')
class DemoController {
  @Post('book')
  book(@Body() dto: BookDto) {
    return { ok: true, guests: dto.guests };
  }

  @Get('missing')
  missing() {
    throw new NotFoundException('listing 42 does not exist');
  }

  @Get('boom')
  boom() {
    throw new Error('secret internal detail');
  }

  @MessagePattern('demo.book')
  rpcBook(@Payload() dto: BookDto) {
    return { ok: true, guests: dto.guests };
  }
}

@Module({ controllers: [DemoController] })
class DemoModule {}

@Controller()
class ChargeController {
  @CallableBy('reservation')
  @MessagePattern('demo.charge')
  charge(@Payload() dto: BookDto) {
    return { charged: dto.guests };
  }
}

@Module({ controllers: [ChargeController] })
class ChargeModule {}

describe('bootstrapService', () => {
  let app: INestApplication;
  let base: string;
  let tcpPort: number;

  beforeAll(async () => {
    const [httpPort, tcp] = await freePorts(2);
    tcpPort = tcp;
    app = await bootstrapService({
      module: DemoModule,
      host: '127.0.0.1',
      httpPort,
      tcpPort,
      instanceId: 'demo-7',
      logger: () => undefined,
    });
    app.useLogger(false);
    base = `http://127.0.0.1:${httpPort}`;
  });

  afterAll(async () => {
    await app?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });

  it('accepts a valid body', async () => {
    const res = await post('/api/book', JSON.stringify({ listingId: 'a', guests: 2 }));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ ok: true, guests: 2 });
  });

  it('names the instance that answered, errors included', async () => {
    const ok = await post('/api/book', JSON.stringify({ listingId: 'a', guests: 2 }));
    expect(ok.headers.get('x-instance-id')).toBe('demo-7');
    const missing = await fetch(`${base}/api/missing`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-instance-id')).toBe('demo-7');
  });

  it('answers malformed JSON with a 400 JSON error', async () => {
    const res = await post('/api/book', '{"listingId": ');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'bad_request',
      message: 'malformed JSON body',
      requestId: expect.any(String),
    });
  });

  it('answers a body that is not JSON with a 415 JSON error, and takes a POST without a body', async () => {
    const res = await post('/api/book', 'listingId=a&guests=2', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({
      error: 'unsupported_media_type',
      message: expect.stringContaining('application/x-www-form-urlencoded'),
      requestId: expect.any(String),
    });
    const empty = await fetch(`${base}/api/book`, { method: 'POST' });
    expect(empty.status).toBe(400); // on to validation: the fields are missing
    expect(await empty.json()).toMatchObject({ error: 'validation_failed' });
  });

  it('answers an oversized body with a 413 JSON error', async () => {
    const res = await post(
      '/api/book',
      JSON.stringify({ listingId: 'x'.repeat(100_000), guests: 1 }),
    );
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('answers a deeply nested body with a 400 JSON error before anything recurses into it', async () => {
    const deep = `{"listingId":${'['.repeat(30_000)}${']'.repeat(30_000)},"guests":1}`;
    const res = await post('/api/book', deep);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'bad_request',
      message: 'JSON nested deeper than 32 levels',
      requestId: expect.any(String),
    });
    // as deep as allowed: on to validation, which names the field
    const nested = `{"listingId":${'['.repeat(31)}${']'.repeat(31)},"guests":1}`;
    const ok = await post('/api/book', nested);
    expect(ok.status).toBe(400);
    expect(await ok.json()).toMatchObject({ error: 'validation_failed' });
  });

  it('answers JSON in another encoding than UTF-8 with a 415 JSON error', async () => {
    const res = await fetch(`${base}/api/book`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-16le' },
      body: Buffer.from(JSON.stringify({ listingId: 'a', guests: 2 }), 'utf16le'),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({
      error: 'unsupported_media_type',
      message: 'send JSON encoded as UTF-8',
    });
  });

  it('names every invalid and unknown field', async () => {
    const res = await post('/api/book', JSON.stringify({ guests: 'two', extra: 1 }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('validation_failed');
    expect(body.message).toMatch(/listingId/);
    expect(body.message).toMatch(/guests/);
    expect(body.message).toMatch(/extra/);
  });

  it('keeps HTTP errors as JSON with their status', async () => {
    const res = await fetch(`${base}/api/missing`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: 'not_found',
      message: 'listing 42 does not exist',
      requestId: expect.any(String),
    });
  });

  it('answers an unknown route with a 404 JSON error', async () => {
    const res = await fetch(`${base}/api/nowhere`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found' });
  });

  it('never leaks an internal error', async () => {
    const res = await fetch(`${base}/api/boom`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      error: 'internal_error',
      message: 'internal error',
      requestId: expect.any(String),
    });
    expect(text).not.toMatch(/secret|stack|at /);
  });

  it('validates TCP payloads too and returns a client error the caller can recognise', async () => {
    const client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: tcpPort, ...TCP_FRAMING },
    });
    try {
      await expect(
        firstValueFrom(client.send('demo.book', { listingId: 'a', guests: 3 })),
      ).resolves.toEqual({
        ok: true,
        guests: 3,
      });
      await expect(
        firstValueFrom(client.send('demo.book', { listingId: 'a', guests: 99 })),
      ).rejects.toMatchObject({
        status: 400,
        error: 'validation_failed',
      });
    } finally {
      await client.close();
    }
  });
});

describe('bootstrapService with signed messages', () => {
  const ed25519 = () => generateKeyPairSync('ed25519');
  const reservation = ed25519();
  const own = ed25519().privateKey;

  it('does not start when a handler is callable by a service whose public key it does not hold', async () => {
    const [httpPort, tcpPort] = await freePorts(2);
    const start = bootstrapService({
      module: ChargeModule,
      host: '127.0.0.1',
      httpPort,
      tcpPort,
      messageAuth: MessageAuth.of('payment', own, { scrap: ed25519().publicKey }),
      logger: () => undefined,
    });
    await expect(start).rejects.toThrow(
      'SERVICE_PUBLIC_KEYS holds no key for reservation (ChargeController.charge take its messages)',
    );
    // nothing was left listening
    await expect(fetch(`http://127.0.0.1:${httpPort}/`)).rejects.toThrow();
  });

  it("takes the messages of the service it holds the key of, refusing the others' and the unsigned", async () => {
    const [httpPort, tcpPort] = await freePorts(2);
    const app = await bootstrapService({
      module: ChargeModule,
      host: '127.0.0.1',
      httpPort,
      tcpPort,
      messageAuth: MessageAuth.of('payment', own, { reservation: reservation.publicKey }),
      logger: () => undefined,
    });
    app.useLogger(false);
    const client = ClientProxyFactory.create({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: tcpPort, ...TCP_FRAMING },
    });
    const dto = { listingId: 'a', guests: 2 };
    const send = (auth?: MessageAuth) =>
      firstValueFrom(
        client.send(
          'demo.charge',
          auth ? withCallContext(dto, { pattern: 'demo.charge', auth }) : dto,
        ),
      );
    try {
      await expect(
        send(MessageAuth.of('reservation', reservation.privateKey, {})),
      ).resolves.toEqual({ charged: 2 });
      const refused = { status: 401, error: 'unauthenticated_call' };
      await expect(send()).rejects.toMatchObject(refused);
      await expect(send(MessageAuth.of('reservation', own, {}))).rejects.toMatchObject(refused);
      await expect(send(MessageAuth.of('scrap', ed25519().privateKey, {}))).rejects.toMatchObject(
        refused,
      );
    } finally {
      await client.close();
      await app.close();
    }
  });
});

describe('loadConfig', () => {
  const schema = z.object({ HTTP_PORT: port(), DB_PASSWORD: z.string().min(1) });

  it('parses and converts a valid environment', () => {
    expect(loadConfig(schema, { HTTP_PORT: '4101', DB_PASSWORD: 'x' })).toEqual({
      HTTP_PORT: 4101,
      DB_PASSWORD: 'x',
    });
  });

  it('fails fast naming every problem', () => {
    expect(() => loadConfig(schema, { HTTP_PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { HTTP_PORT: '70000' })).toThrow(/HTTP_PORT[\s\S]*DB_PASSWORD/);
  });
});
