import {
  BOOKING_PATH,
  DEFAULT_GATEWAY_LIMITS,
  GATEWAY_ROUTES,
  KEYED_RETRY_ROUTES,
  renderNginxConfig,
  retryAfterSeconds,
} from '../index';

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
    const codes = [400, 404, 405, 408, 411, 413, 414, 429, 494, 500, 501, 502, 503, 504, 505];
    for (const code of codes) {
      expect(conf).toMatch(new RegExp(`error_page ${code} /_gateway/errors/${code};`));
      const page = new RegExp(`location = /_gateway/errors/${code} \\{([^}]*)\\}`).exec(conf)?.[1];
      expect({ code, page }).toEqual({
        code,
        page: expect.stringMatching(/return \d{3} '\{"error":/),
      });
      // an error page is served as a GET: the method would be wrong in it
      expect(page).not.toMatch(/\$request_method/);
    }
    expect(conf).toMatch(/default_type application\/json;/);
  });

  it('refuses encoded slashes, dots and backslashes and dot segments in a path, before any location', () => {
    const conf = renderNginxConfig(base);
    const server = conf.slice(conf.indexOf('server {'));
    expect(server.indexOf('if ($stayline_unsafe_path)')).toBeLessThan(server.indexOf('location'));
    const patterns = [...conf.matchAll(/^\s+"~(\*?)([^"]+)"\s+1;$/gm)].map(
      ([, ci, re]) => new RegExp(re.replace(/\\\\/g, '\\'), ci ? 'i' : ''),
    );
    const unsafe = (uri: string) => patterns.some((p) => p.test(uri));
    for (const uri of [
      '/api/payments/..%2f..%2fhealth',
      '/api/payments/%2E%2E/x',
      '/api/payments/a%5cb',
      '/api/listings/../../admin/flags',
      '/api/listings/./x',
      '/api/listings/..',
      '/api/listings/..?x=1',
    ])
      expect({ uri, unsafe: unsafe(uri) }).toEqual({ uri, unsafe: true });
    for (const uri of [
      '/api/listings?city=Jeju&next=%2Fx%2F..',
      '/api/listings/a..b',
      '/api/listings/.well',
      '/api/payments/a%20b',
    ])
      expect({ uri, unsafe: unsafe(uri) }).toEqual({ uri, unsafe: false });
  });

  it('routes every public prefix and no admin route, sending the normalised path', () => {
    const conf = renderNginxConfig(base);
    for (const r of GATEWAY_ROUTES) {
      const block = new RegExp(`location ${r.prefix} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
      // a URI part: nginx passes the normalised path, not the client's raw one
      expect(block).toContain(`proxy_pass http://${r.service}${r.prefix};`);
    }
    expect(conf).not.toMatch(/admin/);
  });

  it('cuts slow clients and bounds their headers (Slowloris)', () => {
    const conf = renderNginxConfig(base);
    for (const d of ['client_header_timeout', 'client_body_timeout', 'send_timeout'])
      expect(conf).toMatch(new RegExp(`\\n {2}${d} 10s;`));
    expect(conf).toMatch(/\n {2}keepalive_timeout 15s;/);
    expect(conf).toMatch(/\n {2}large_client_header_buffers 4 8k;/);
    expect(conf).toMatch(/\n {2}client_max_body_size 64k;/);
    // and held in memory: no temp file a worker could fail to write
    expect(conf).toMatch(/\n {2}client_body_buffer_size 64k;/);
  });

  it('limits bookings per client address, in both locations a booking can end in, and nothing else', () => {
    const conf = renderNginxConfig(base);
    expect(conf).toMatch(
      /map \$request_method \$stayline_booking_client \{\s+POST\s+\$binary_remote_addr;\s+default "";/,
    );
    expect(conf).toContain(
      `limit_req_zone $stayline_booking_client zone=bookings:10m rate=${DEFAULT_GATEWAY_LIMITS.bookingRate};`,
    );
    expect(conf).toMatch(/limit_req_status 429;/);
    const limits = [...conf.matchAll(/limit_req zone=bookings burst=(\d+) nodelay;/g)];
    expect(limits.map((m) => Number(m[1]))).toEqual([5, 5]);
    const exact = new RegExp(`location = ${BOOKING_PATH} \\{([^}]+\\}[^}]*)\\}`).exec(conf)?.[1];
    expect(exact).toMatch(/limit_req zone=bookings/);
    const keyed = /location = \/_gateway\/keyed\/0 \{([^}]+)\}/.exec(conf)?.[1];
    expect(keyed).toMatch(/limit_req zone=bookings/);
    const page = /location = \/_gateway\/errors\/429 \{([^}]+)\}/.exec(conf)?.[1] ?? '';
    expect(page).toMatch(/add_header Retry-After 1 always;/);
    expect(page).toMatch(/add_header X-Request-Id \$stayline_request_id always;/);
  });

  it('takes the booking rate and burst from its options, and refuses what nginx would not', () => {
    const conf = renderNginxConfig({ ...base, limits: { bookingRate: '30r/m', bookingBurst: 0 } });
    expect(conf).toMatch(/rate=30r\/m;/);
    expect(conf).toMatch(/limit_req zone=bookings burst=0 nodelay;/);
    expect(conf).toMatch(/add_header Retry-After 2 always;/);
    expect(() => renderNginxConfig({ ...base, limits: { bookingRate: '5/s' } })).toThrow(/rate/);
    expect(() => renderNginxConfig({ ...base, limits: { bookingBurst: -1 } })).toThrow(/burst/i);
    expect(retryAfterSeconds('1r/s')).toBe(1);
    expect(retryAfterSeconds('20r/s')).toBe(1);
    expect(retryAfterSeconds('6r/m')).toBe(10);
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
