import { Controller, Get, INestApplication, Module, UseGuards } from '@nestjs/common';
import { freePorts } from '@stayline/stack-kit';
import { ADMIN_TOKEN, AdminTokenGuard, bearerToken } from './admin-token.guard';
import { bootstrapService } from './bootstrap';

const TOKEN = 'a'.repeat(20) + 'B-c.d_e~f+g/h=1'; // 35 bytes of the token alphabet

@Controller('admin')
@UseGuards(AdminTokenGuard)
class GuardedController {
  @Get('ping')
  ping() {
    return { ok: true };
  }
}

@Module({
  controllers: [GuardedController],
  providers: [{ provide: ADMIN_TOKEN, useValue: TOKEN }, AdminTokenGuard],
})
class GuardedModule {}

describe('bearerToken', () => {
  it.each([
    [`Bearer ${TOKEN}`, TOKEN],
    [`bearer ${TOKEN}`, TOKEN],
    [`BeArEr ${TOKEN}`, TOKEN],
  ])('takes the scheme in any case: %s', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    ['no header', undefined],
    ['the token alone', TOKEN],
    ['another scheme', `Basic ${TOKEN}`],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['two spaces', `Bearer  ${TOKEN}`],
    ['a tab', `Bearer\t${TOKEN}`],
    ['a second word', `Bearer ${TOKEN} ${TOKEN}`],
    ['a space before the scheme', ` Bearer ${TOKEN}`],
    ['a scheme glued to the token', `Bearer${TOKEN}`],
  ])('finds no token in %s', (_what, header) => {
    expect(bearerToken(header)).toBeUndefined();
  });
});

describe('AdminTokenGuard', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    const [httpPort] = await freePorts(1);
    app = await bootstrapService({
      module: GuardedModule,
      host: '127.0.0.1',
      httpPort,
      logger: () => undefined,
    });
    app.useLogger(false);
    base = `http://127.0.0.1:${httpPort}`;
  });

  afterAll(async () => {
    await app?.close();
  });

  const ping = (authorization?: string) =>
    fetch(`${base}/admin/ping`, { headers: authorization ? { authorization } : {} });

  it('lets `Bearer <token>` through, the scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const res = await ping(`${scheme} ${TOKEN}`);
      expect({ scheme, status: res.status }).toEqual({ scheme, status: 200 });
      expect(await res.json()).toEqual({ ok: true });
    }
  });

  it.each([
    ['no header', undefined],
    ['the token without its scheme', TOKEN],
    ['another scheme', `Basic ${TOKEN}`],
    ['two spaces after the scheme', `Bearer  ${TOKEN}`],
    ['a second word', `Bearer ${TOKEN} extra`],
    ['a wrong token of the same length', `Bearer ${'x'.repeat(TOKEN.length)}`],
    ['the token and one more character', `Bearer ${TOKEN}x`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the scheme alone', 'Bearer'],
  ])('answers %s with a 401 JSON error and a Bearer challenge', async (_what, header) => {
    const res = await ping(header);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="stayline-admin"');
    const body = (await res.json()) as Record<string, string>;
    expect(body).toEqual({
      error: 'unauthorized',
      message: 'admin routes need Authorization: Bearer <ADMIN_TOKEN>',
      requestId: expect.any(String),
    });
    expect(JSON.stringify(body)).not.toContain(TOKEN);
  });

  it('refuses to be made with a token shorter than 32 bytes', () => {
    expect(() => new AdminTokenGuard('x'.repeat(31))).toThrow(/at least 32 bytes/);
    expect(() => new AdminTokenGuard('x'.repeat(32))).not.toThrow();
    // bytes, not characters: 11 three-byte characters are 33 bytes
    expect(() => new AdminTokenGuard('€'.repeat(11))).not.toThrow();
  });
});
