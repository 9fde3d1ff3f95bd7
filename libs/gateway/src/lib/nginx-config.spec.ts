import { GATEWAY_ROUTES, KEYED_RETRY_ROUTES, renderNginxConfig } from '../index';

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
    // nginx must drop an idle upstream connection before Node's keepAliveTimeout (5 s) does
    expect(conf).toMatch(/keepalive_timeout 4s;/);
  });

  it('retries on the next instance only for idempotent requests, and never on a 503', () => {
    const conf = renderNginxConfig(base);
    const retry = /proxy_next_upstream ([^;]+);/.exec(conf)?.[1] ?? '';
    // no `non_idempotent`: a POST that reached an instance is never sent again
    expect(retry.split(/\s+/).sort()).toEqual(['error', 'http_502', 'timeout']);
  });

  it('resends a booking to the next instance only when it carries an Idempotency-Key', () => {
    const conf = renderNginxConfig(base);
    for (const [i, r] of KEYED_RETRY_ROUTES.entries()) {
      const plain = new RegExp(`location = ${r.path} \\{([^}]+\\}[^}]*)\\}`).exec(conf)?.[1] ?? '';
      expect(plain).toContain(
        `if ($http_idempotency_key != "") { rewrite ^ /_gateway/keyed/${i} last; }`,
      );
      expect(plain).not.toMatch(/non_idempotent/);
      const keyed =
        new RegExp(`location = /_gateway/keyed/${i} \\{([^}]+)\\}`).exec(conf)?.[1] ?? '';
      expect(keyed).toMatch(/internal;/);
      expect(keyed).toContain(`rewrite ^ ${r.path} break;`);
      expect(keyed).toMatch(/proxy_next_upstream error timeout http_502 non_idempotent;/);
    }
  });

  it('sets the request id at the edge, keeping a plain one from the client, and answers it once', () => {
    const conf = renderNginxConfig(base);
    expect(conf).toMatch(/proxy_set_header X-Request-Id \$stayline_request_id;/);
    expect(conf).toMatch(/proxy_hide_header X-Request-Id;/);
    expect(conf).toMatch(/add_header X-Request-Id \$stayline_request_id always;/);
    expect(conf).toMatch(/"requestId":"\$stayline_request_id"/);
  });

  it('answers every error nginx itself produces as JSON', () => {
    const conf = renderNginxConfig(base);
    for (const code of [400, 404, 405, 413, 414, 494, 500, 502, 503, 504])
      expect(conf).toMatch(new RegExp(`error_page ${code} /_gateway/errors/${code};`));
    expect(conf).toMatch(/default_type application\/json;/);
  });

  it('routes every public prefix and no admin route', () => {
    const conf = renderNginxConfig(base);
    for (const r of GATEWAY_ROUTES) {
      const block = new RegExp(`location ${r.prefix} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
      expect(block).toContain(`proxy_pass http://${r.service};`);
    }
    expect(conf).not.toMatch(/admin/);
  });

  it('tries another instance after a read-only route waits 5 s, and retries a timed-out attempt at all', () => {
    const conf = renderNginxConfig({ ...base, readTimeout: '10s' });
    const block = (prefix: string) =>
      new RegExp(`location ${prefix} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
    expect(block('/api/listings')).toMatch(/proxy_read_timeout 5s;/);
    expect(block('/api/listings')).toMatch(/proxy_next_upstream_timeout 11s;/);
    // a write route keeps the read timeout; the window covers a second attempt after a timeout
    expect(block('/api/reservations')).not.toMatch(/proxy_read_timeout/);
    expect(conf).toMatch(/proxy_read_timeout 10s;/);
    expect(conf).toMatch(/\n {4}proxy_next_upstream_timeout 21s;/);
    expect(() => renderNginxConfig({ ...base, readTimeout: '500ms' })).toThrow(/whole seconds/);
  });
});
