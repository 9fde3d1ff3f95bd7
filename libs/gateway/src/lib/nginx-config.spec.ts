import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  API_DOCS_CSP,
  BOOKING_PATH,
  DASHBOARD_CSP,
  DEFAULT_GATEWAY_LIMITS,
  GATEWAY_ROUTES,
  KEYED_RETRY_ROUTES,
  KIT_SERVERS_DIR,
  renderNginxConfig,
  retryAfterSeconds,
  SECURITY_HEADERS,
} from '../index';

/** The body of the block that opens with `head {` (nested blocks included). */
function block(conf: string, head: string): string {
  const start = conf.indexOf(`${head} {`);
  if (start < 0) return '';
  let depth = 0;
  for (let i = conf.indexOf('{', start); i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    else if (conf[i] === '}' && --depth === 0) return conf.slice(conf.indexOf('{', start) + 1, i);
  }
  return '';
}

/** Every `location ... {` head of the configuration. */
function locationHeads(conf: string): string[] {
  return [...conf.matchAll(/^\s+(location [^{]+?) \{/gm)].map((m) => m[1]);
}

/** The map that gives a 429 its Retry-After. */
function retryAfterMap(conf: string): string {
  return block(
    conf,
    'map "$limit_conn_status:$stayline_refused:$stayline_token_key" $stayline_retry_after',
  );
}

const ROOT = path.resolve(__dirname, '../../../..');

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

  it("sends and answers the edge's own request id, never the client's; a client's plain id goes along as X-Client-Request-Id", () => {
    const conf = renderNginxConfig(base);
    expect(conf).toMatch(/proxy_set_header X-Request-Id \$request_id;/);
    expect(conf).toMatch(/proxy_hide_header X-Request-Id;/);
    expect(conf).toMatch(/add_header X-Request-Id "\$request_id" always;/);
    expect(conf).toMatch(/"requestId":"\$request_id"/);
    // the client's header is read in one place: the map that keeps a short plain token
    expect(conf.match(/\$http_x_request_id/g)).toHaveLength(2);
    const map = block(conf, 'map $http_x_request_id $stayline_client_request_id');
    expect(map).toMatch(/"~\^\[A-Za-z0-9_.:@-\]\{1,128\}\$" \$http_x_request_id;/);
    expect(map).toMatch(/default\s+"";/);
    expect(conf).toMatch(/proxy_set_header X-Client-Request-Id \$stayline_client_request_id;/);
    // both ids in the access log
    expect(conf).toMatch(
      /"requestId":"\$request_id",'\s+'"clientRequestId":"\$stayline_client_request_id"/,
    );
    expect(conf).not.toMatch(/stayline_request_id/);
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
    const page = block(conf, 'location = /_gateway/errors/429');
    expect(page).toMatch(/add_header Retry-After \$stayline_retry_after always;/);
    // a booking without a token was refused by the address's limit: its rate's wait
    expect(retryAfterMap(conf)).toMatch(/"~\^\[\^:\]\*:bookings:\$"\s+1;/);
    expect(page).toContain(
      `if ($stayline_token_key = "") {\n        return 429 '{"error":"too_many_requests","message":"too many bookings from this address (1r/s); retry after 1 s","requestId":"$request_id"}';`,
    );
    // with a trailing slash (the service books there too) it is the same booking, limited alike
    expect(block(conf, `location = ${BOOKING_PATH}/`).trim()).toBe(
      `rewrite ^ ${BOOKING_PATH} last;`,
    );
    // cancels (the prefix location) are no bookings
    expect(block(conf, `location ${BOOKING_PATH}`)).not.toMatch(
      /zone=bookings|zone=token_bookings/,
    );
  });

  it('takes the booking rate and burst from its options, and refuses what nginx would not', () => {
    const conf = renderNginxConfig({ ...base, limits: { bookingRate: '30r/m', bookingBurst: 0 } });
    expect(conf).toMatch(/rate=30r\/m;/);
    expect(conf).toMatch(/limit_req zone=bookings burst=0 nodelay;/);
    expect(retryAfterMap(conf)).toMatch(/:bookings:\$"\s+2;/);
    expect(() => renderNginxConfig({ ...base, limits: { bookingRate: '5/s' } })).toThrow(/rate/);
    expect(() => renderNginxConfig({ ...base, limits: { bookingBurst: -1 } })).toThrow(/burst/i);
    expect(retryAfterSeconds('1r/s')).toBe(1);
    expect(retryAfterSeconds('20r/s')).toBe(1);
    expect(retryAfterSeconds('6r/m')).toBe(10);
  });

  describe('per bearer token', () => {
    /** The key nginx's map gives an Authorization header: its first regex, as PCRE would (`~*`). */
    const tokenKey = (conf: string, authorization: string | undefined) => {
      const map = block(conf, 'map $http_authorization $stayline_token_key');
      const m = /"~\*(.+)" \$stayline_token_payload;/.exec(map);
      if (!m) throw new Error('no token map');
      const source = m[1].replace('(?<stayline_token_payload>', '(?<payload>');
      return new RegExp(source, 'i').exec(authorization ?? '')?.groups?.payload ?? '';
    };
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6IjEyMyJ9.c2lnbmF0dXJl-_x';

    it("keys on the payload segment of a well-formed Bearer token, the services' rule; nothing else is counted", () => {
      const conf = renderNginxConfig(base);
      const payload = jwt.split('.')[1];
      for (const header of [`Bearer ${jwt}`, `bearer ${jwt}`, `BEARER   ${jwt}`])
        expect({ header, key: tokenKey(conf, header) }).toEqual({ header, key: payload });
      // the signature's last character written another way is the same key
      expect(tokenKey(conf, `Bearer ${jwt.slice(0, -1)}y`)).toBe(payload);
      for (const header of [
        undefined,
        '',
        'Basic YWxpY2U6cGFzcw==',
        'Bearer',
        'Bearer not-a-jwt',
        `Bearer ${jwt}.extra`,
        `Bearer ${jwt} trailing`,
        `Bearer${jwt}`,
        'Bearer a..b',
        `Token ${jwt}`,
      ])
        expect({ header, key: tokenKey(conf, header) }).toEqual({ header, key: '' });
      expect(block(conf, 'map $http_authorization $stayline_token_key')).toMatch(/default\s+"";/);
      expect(conf).toMatch(
        /map \$request_method \$stayline_booking_token \{\s+POST\s+\$stayline_token_key;\s+default "";/,
      );
      expect(conf).toContain('limit_req_zone $stayline_token_key zone=tokens:20m rate=10r/s;');
      expect(conf).toContain(
        'limit_req_zone $stayline_booking_token zone=token_bookings:20m rate=30r/m;',
      );
    });

    it('limits every API location per token, bookings per token too beside the per-address limit, and nothing outside the API', () => {
      const conf = renderNginxConfig(base);
      for (const r of GATEWAY_ROUTES) {
        const body = block(conf, `location ${r.prefix}`);
        if (r.prefix.startsWith('/api/')) {
          expect({ route: r.prefix, body }).toEqual({
            route: r.prefix,
            body: expect.stringMatching(
              /^\s+set \$stayline_refused requests;\s+limit_req zone=tokens burst=50 nodelay;/,
            ),
          });
          expect(body).not.toMatch(/zone=(bookings|token_bookings)/);
        } else
          expect({ route: r.prefix, limited: /limit_req/.test(body) }).toEqual({
            route: r.prefix,
            limited: false,
          });
      }
      for (const head of [`location = ${BOOKING_PATH}`, 'location = /_gateway/keyed/0']) {
        const body = block(conf, head);
        // first: a rewrite would skip what follows it
        expect(body).toMatch(
          /^\s+(internal;\s+)?set \$stayline_refused \$stayline_booking_refusal;\s+limit_req zone=bookings burst=5 nodelay;\s+limit_req zone=token_bookings burst=5 nodelay;\s+limit_req zone=tokens burst=50 nodelay;\s+(if|rewrite) /,
        );
      }
      expect(conf).toMatch(
        /map \$request_method \$stayline_booking_refusal \{\s+POST\s+bookings;\s+default requests;/,
      );
    });

    it('answers 429 JSON that says which limit, with its Retry-After', () => {
      const conf = renderNginxConfig(base);
      const map = retryAfterMap(conf);
      expect(map).toMatch(/"~\^REJECTED:"\s+1;/);
      expect(map).toMatch(/"~\^\[\^:\]\*:requests:"\s+1;/);
      // a booking with a token: the longest of the three waits (30r/m: 2 s)
      expect(map).toMatch(/default\s+2;/);
      const page = block(conf, 'location = /_gateway/errors/429');
      expect(page).toContain(
        `if ($stayline_refused = requests) {\n        return 429 '{"error":"too_many_requests","message":"too many requests with this token (10r/s); retry after 1 s","requestId":"$request_id"}';`,
      );
      expect(page).toMatch(
        /\n {6}return 429 '\{"error":"too_many_requests","message":"too many bookings from this address \(1r\/s\) or with this token \(30r\/m; requests 10r\/s\); retry after 2 s","requestId":"\$request_id"\}';\n\s*$/,
      );
    });

    it('takes the per-token rates and bursts from its options, and refuses what nginx would not', () => {
      const conf = renderNginxConfig({
        ...base,
        limits: {
          tokenRequestRate: '6r/m',
          tokenRequestBurst: 0,
          tokenBookingRate: '20r/s',
          tokenBookingBurst: 7,
        },
      });
      expect(conf).toContain('zone=tokens:20m rate=6r/m;');
      expect(conf).toContain('zone=token_bookings:20m rate=20r/s;');
      expect(conf).toMatch(/limit_req zone=tokens burst=0 nodelay;/);
      expect(conf).toMatch(/limit_req zone=token_bookings burst=7 nodelay;/);
      expect(retryAfterMap(conf)).toMatch(/:requests:"\s+10;/);
      expect(retryAfterMap(conf)).toMatch(/default\s+10;/);
      for (const [limits, problem] of [
        [{ tokenRequestRate: '10/s' }, /tokenRequestRate: a rate is requests per second or minute/],
        [{ tokenBookingRate: '0r/s' }, /tokenBookingRate/],
        [{ tokenRequestBurst: -1 }, /tokenRequestBurst is a whole number/],
        [{ tokenBookingBurst: 1.5 }, /tokenBookingBurst/],
      ] as const)
        expect(() => renderNginxConfig({ ...base, limits })).toThrow(problem);
    });
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

  describe('upstreams from the registry', () => {
    const forged: Array<[string, unknown, unknown]> = [
      ['a directive in the host', '10.0.0.1:80; } server { listen 9999', 80],
      ['a newline', 'evil.example\n', 80],
      ['a space', 'evil example', 80],
      ['a brace', 'evil{example', 80],
      ['a quote', '"evil.example"', 80],
      ['a slash', 'evil.example/x', 80],
      ['a hash', 'evil.example#x', 80],
      ['a control character', 'evil\u0000.example', 80],
      ['an empty host', '', 80],
      ['a host of 254 characters', `${'a'.repeat(63)}.`.repeat(4).slice(0, 254), 80],
      ['a label of 64 characters', `${'a'.repeat(64)}.example`, 80],
      ['a leading hyphen', '-evil.example', 80],
      ['a number that is no IPv4 address', '10.0.0.300', 80],
      ['an IPv6 zone', 'fe80::1%eth0', 80],
      ['an IPv6 address with its port', '[::1]:80', 80],
      ['a host that is not a string', 42, 80],
      ['port 0', '10.0.0.1', 0],
      ['port 70000', '10.0.0.1', 70_000],
      ['port "80" (a string)', '10.0.0.1', '80'],
      ['a fractional port', '10.0.0.1', 80.5],
      ['a negative port', '10.0.0.1', -80],
      ['no port', '10.0.0.1', undefined],
    ];

    it.each(forged)('refuses %s, renders nothing', (_what, host, port) => {
      const upstreams = {
        payment: [
          { host: '127.0.0.1', port: 4101 },
          { host, port },
        ],
      } as unknown as Record<string, Array<{ host: string; port: number }>>;
      expect(() => renderNginxConfig({ ...base, upstreams })).toThrow(/^upstream payment: /);
    });

    it('renders IPv4 and IPv6 literals and RFC 1123 host names', () => {
      const conf = renderNginxConfig({
        ...base,
        upstreams: {
          payment: [
            { host: '10.0.0.1', port: 1 },
            { host: '::1', port: 65_535 },
            { host: 'payment-1.payment.stayline.svc.cluster.local', port: 4101 },
            { host: 'localhost', port: 4102 },
            { host: '3com.example', port: 4103 },
            {
              host: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`,
              port: 1,
            },
          ],
        },
      });
      const servers = [...block(conf, 'upstream payment').matchAll(/server (\S+) /g)].map(
        (m) => m[1],
      );
      expect(servers).toEqual([
        '10.0.0.1:1',
        '[::1]:65535',
        'payment-1.payment.stayline.svc.cluster.local:4101',
        'localhost:4102',
        '3com.example:4103',
        `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}:1`,
      ]);
    });
  });

  describe('security headers', () => {
    const common = { 'X-Request-Id': '$request_id', ...SECURITY_HEADERS };

    it("adds nosniff, no-referrer and DENY to every answer, errors included, and hides the services' own copies", () => {
      const conf = renderNginxConfig(base);
      expect(SECURITY_HEADERS).toEqual({
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'X-Frame-Options': 'DENY',
      });
      const server = block(conf, 'server');
      const serverLevel = server.replace(/\n\s+location [^{\n]+\{[^{}]*(\{[^{}]*\}[^{}]*)*\}/g, '');
      for (const [name, value] of Object.entries(common)) {
        expect(serverLevel).toContain(`\n    add_header ${name} "${value}" always;`);
        expect(serverLevel).toContain(`\n    proxy_hide_header ${name};`);
      }
    });

    it("restates every edge header in each location that adds one of its own (nginx's add_header rule)", () => {
      for (const conf of [
        renderNginxConfig(base),
        renderNginxConfig({ ...base, limits: { exposeInstanceId: true } }),
      ]) {
        const withHeaders = locationHeads(conf).filter((h) => /add_header/.test(block(conf, h)));
        expect(withHeaders).toEqual(
          expect.arrayContaining([
            'location /api/docs',
            'location /dashboard',
            'location = /_gateway/errors/429',
          ]),
        );
        for (const head of withHeaders)
          for (const [name, value] of Object.entries(common))
            expect({
              head,
              line: block(conf, head).includes(`add_header ${name} "${value}" always;`),
            }).toEqual({ head, line: true });
      }
    });

    it('sends a Content-Security-Policy with the dashboard and the API docs, and nothing else', () => {
      const conf = renderNginxConfig(base);
      const csp = (head: string) =>
        /add_header Content-Security-Policy "([^"]+)" always;/.exec(block(conf, head))?.[1];
      expect(csp('location /dashboard')).toBe(DASHBOARD_CSP);
      expect(csp('location /api/docs')).toBe(API_DOCS_CSP);
      expect(conf.match(/Content-Security-Policy/g)).toHaveLength(2);
      for (const policy of [DASHBOARD_CSP, API_DOCS_CSP]) {
        expect(policy).toMatch(/^default-src 'none';/);
        expect(policy).toContain("frame-ancestors 'none'");
        expect(policy).toContain("connect-src 'self'");
        expect(policy).not.toMatch(/unsafe-eval|\*|https?:/);
      }
      // the dashboard's inline script runs by its hash only; Swagger UI runs no inline script
      expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
      expect(API_DOCS_CSP).toMatch(/script-src 'self';/);
    });

    it("matches the dashboard page: the hashes are its inline script's and style's, and it loads only the dashboard's assets", () => {
      const page = fs.readFileSync(
        path.join(ROOT, 'apps/dashboard/src/page/dashboard.html'),
        'utf8',
      );
      const inline = (tag: string) =>
        [...page.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map(
          (m) => `'sha256-${createHash('sha256').update(m[1], 'utf8').digest('base64')}'`,
        );
      const want = `script-src 'self' ${inline('script').join(' ')}; style-src 'self' ${inline('style').join(' ')}`;
      // a changed page needs these hashes in DASHBOARD_INLINE_HASHES (libs/gateway edge.ts)
      expect(DASHBOARD_CSP).toContain(want);
      // nothing the policy would block: one inline script and style, the other scripts and
      // stylesheets the dashboard's own files (uPlot, the charts), no style attribute, no handler
      expect(page.match(/<script>/g)).toHaveLength(1);
      expect(page.match(/<style>/g)).toHaveLength(1);
      const files = [...page.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]);
      const sheets = [...page.matchAll(/<link rel="stylesheet" href="([^"]+)" \/>/g)].map(
        (m) => m[1],
      );
      expect(page.match(/<script/g)).toHaveLength(1 + files.length);
      expect(page.match(/<link/g)).toHaveLength(sheets.length);
      for (const f of [...files, ...sheets]) expect(f).toMatch(/^\/dashboard\/assets\/[\w.-]+$/);
      expect(page).not.toMatch(/\sstyle=|\son[a-z]+=|<img|<iframe|<form|https?:\/\//);
      expect(page).toContain("new EventSource('/dashboard/events')");
    });

    it('matches Swagger UI as @nestjs/swagger serves it: scripts from files beside the page', () => {
      // the page's template as the installed @nestjs/swagger holds it
      const htmlTemplateString = fs.readFileSync(
        path.join(ROOT, 'node_modules/@nestjs/swagger/dist/swagger-ui/constants.js'),
        'utf8',
      );
      const scripts = [...htmlTemplateString.matchAll(/<script([^\n]*?)>\s*<\/script>/g)].map(
        (m) => m[1],
      );
      expect(scripts.length).toBeGreaterThan(0);
      expect(htmlTemplateString.match(/<script/g)).toHaveLength(scripts.length);
      for (const attrs of scripts) expect(attrs).toMatch(/^ src="<% baseUrl %>[\w.-]+\.js"$/);
      // inline <style> blocks and a style attribute: style-src allows inline styles
      expect(htmlTemplateString).toMatch(/<style>/);
      expect(API_DOCS_CSP).toMatch(/style-src 'self' 'unsafe-inline';/);
      expect(htmlTemplateString).not.toMatch(/<link[^>]+href="https?:/);
    });
  });

  it('hides X-Instance-Id from clients unless asked to keep it', () => {
    expect(DEFAULT_GATEWAY_LIMITS.exposeInstanceId).toBe(false);
    const hidden = renderNginxConfig(base);
    expect(hidden).toMatch(/\n {4}proxy_hide_header X-Instance-Id;/);
    const shown = renderNginxConfig({ ...base, limits: { exposeInstanceId: true } });
    expect(shown).not.toMatch(/proxy_hide_header X-Instance-Id/);
    // no location has a proxy_hide_header of its own (it would drop the server's list)
    for (const head of locationHeads(hidden))
      expect(block(hidden, head)).not.toMatch(/proxy_hide_header/);
  });

  it('limits the requests one client address has in progress, answered with 429 JSON of its own', () => {
    const conf = renderNginxConfig(base);
    expect(DEFAULT_GATEWAY_LIMITS.connectionsPerClient).toBe(64);
    expect(conf).toMatch(/limit_conn_zone \$binary_remote_addr zone=clients:10m;/);
    expect(conf).toMatch(/limit_conn_status 429;/);
    expect(block(conf, 'server')).toMatch(/\n {4}limit_conn clients 64;/);
    for (const head of locationHeads(conf)) expect(block(conf, head)).not.toMatch(/limit_conn /);
    const page = block(conf, 'location = /_gateway/errors/429');
    expect(page).toMatch(
      /if \(\$limit_conn_status = REJECTED\) \{\s+return 429 '\{"error":"too_many_connections","message":"more than 64 requests at once from this address; retry after 1 s","requestId":"\$request_id"\}';/,
    );
    expect(retryAfterMap(conf)).toMatch(/"~\^REJECTED:"\s+1;/);

    const raised = renderNginxConfig({ ...base, limits: { connectionsPerClient: 10_000 } });
    expect(raised).toMatch(/limit_conn clients 10000;/);
    for (const bad of [0, -1, 1.5, 65_536, Number.NaN])
      expect(() => renderNginxConfig({ ...base, limits: { connectionsPerClient: bad } })).toThrow(
        /connectionsPerClient/,
      );
  });

  it("includes the stack kit's server blocks only when its prefix has a conf.d directory", () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-kit-'));
    try {
      const without = renderNginxConfig({ ...base, prefix });
      expect(without).not.toMatch(/include/);
      fs.mkdirSync(path.join(prefix, KIT_SERVERS_DIR));
      const conf = renderNginxConfig({ ...base, prefix });
      const include = `include ${prefix}/${KIT_SERVERS_DIR}/*.conf;`;
      expect(conf).toContain(`  ${include}\n}`);
      // in the http block, after the gateway's server block: never inside it
      expect(block(conf, 'http')).toContain(include);
      expect(block(conf, 'server')).not.toContain('include');
    } finally {
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  });

  it('runs one worker per core unless told a count', () => {
    expect(renderNginxConfig(base)).toMatch(/^worker_processes auto;$/m);
    expect(renderNginxConfig({ ...base, workers: 2 })).toMatch(/^worker_processes 2;$/m);
    for (const bad of [0, 1.5, -2])
      expect(() => renderNginxConfig({ ...base, workers: bad })).toThrow(/workers/);
  });
});
