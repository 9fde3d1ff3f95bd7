import { GATEWAY_ROUTES, renderNginxConfig } from './nginx';

describe('renderNginxConfig', () => {
  const base = { prefix: '/tmp/x', host: '127.0.0.1', port: 8080 };

  it('renders a placeholder for services without instances (an upstream may not be empty)', () => {
    const conf = renderNginxConfig(base);
    expect(conf).toMatch(/upstream payment \{\n\s+server 127\.0\.0\.1:9 down;/);
    expect(conf).not.toMatch(/\{\{/);
  });

  it('renders every instance with passive health checks and keepalive', () => {
    const conf = renderNginxConfig({
      ...base,
      upstreams: {
        payment: [
          { host: '127.0.0.1', port: 4101 },
          { host: '127.0.0.1', port: 4102 },
        ],
      },
    });
    expect(conf).toContain('server 127.0.0.1:4101 max_fails=2 fail_timeout=5s;');
    expect(conf).toContain('server 127.0.0.1:4102 max_fails=2 fail_timeout=5s;');
    expect(conf).toMatch(/keepalive 64;/);
  });

  it('routes every public prefix and no admin route', () => {
    const conf = renderNginxConfig(base);
    for (const r of GATEWAY_ROUTES)
      expect(conf).toContain(`location ${r.prefix} {\n      proxy_pass http://${r.service};`);
    expect(conf).not.toMatch(/admin/);
  });
});
