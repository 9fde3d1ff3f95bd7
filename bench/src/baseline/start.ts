/**
 * Starts the baseline (server.ts) on a whole stack: as a component of the
 * stack (stopped with it, its log in `<stateDir>/baseline/out.log`), on the
 * stack's MariaDB primary as the test kits' user (it writes the reservation
 * and payment databases in one transaction), verifying tokens with the key set
 * of one auth instance, behind the stack's nginx in a server block of its own;
 * and checks that it answers a booking as stayline does before it is measured.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  addKitServer,
  type Component,
  freePorts,
  LOAD_BOOKING_CAP_PER_USER,
  type Stack,
} from '@stayline/stack-kit';

/** The baseline process as a component of the stack (stopped with it), and its server block in nginx. */
export async function startBaseline(stack: Stack): Promise<{ url: string; component: Component }> {
  const [port, nginxPort] = await freePorts(2);
  const auth = stack.components.find((c) => c.meta?.service === 'auth');
  if (!auth) throw new Error('the stack has no auth instance (the baseline verifies its tokens)');
  const primary = stack.mariadb.primary;
  const component = await stack.spawnScript({
    name: 'baseline',
    role: 'baseline',
    script: path.join(__dirname, 'server.ts'),
    args: [],
    ports: { http: port },
    // a busy machine compiles and starts it slowly, as it does the services
    timeoutMs: 60_000,
    env: {
      PORT: String(port),
      DB_HOST: primary.host,
      DB_PORT: String(primary.port),
      DB_USER: stack.credentials.app.user,
      DB_PASSWORD: stack.credentials.app.password,
      JWKS_URL: `http://${auth.host}:${auth.port}/api/auth/.well-known/jwks.json`,
      BOOKING_MAX_ACTIVE_PER_USER: String(LOAD_BOOKING_CAP_PER_USER),
    },
  });
  // as the gateway's upstreams are (libs/gateway nginx-config.ts): keep-alive, passive checks, HTTP/1.1
  await addKitServer(
    stack,
    'baseline',
    `
  upstream stayline_baseline {
    server 127.0.0.1:${port} max_fails=2 fail_timeout=5s;
    keepalive 64;
    keepalive_timeout 4s;
  }
  server {
    listen 127.0.0.1:${nginxPort} backlog=4096;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Request-Id $request_id;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_connect_timeout 1s;
    proxy_read_timeout 10s;
    location = /api/reservations {
      proxy_pass http://stayline_baseline;
    }
    location / {
      return 404 '{"error":"not_found","message":"the baseline serves POST /api/reservations only"}';
    }
  }`,
    nginxPort,
  );
  return { url: `http://127.0.0.1:${nginxPort}`, component };
}

/** The baseline's 500s as it logged them (`booking failed: ...`), while its log is there (until the stack stops). */
export function baselineErrors(stack: Stack): string[] {
  const c = stack.components.find((x) => x.name === 'baseline');
  if (!c || !fs.existsSync(c.spec.logFile)) return [];
  return fs
    .readFileSync(c.spec.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('booking failed'));
}

interface Answer {
  status: number;
  replayed: boolean;
  body: Record<string, unknown>;
}

async function post(
  origin: string,
  headers: Record<string, string>,
  key: string,
  body: unknown,
): Promise<Answer> {
  const res = await fetch(`${origin}/api/reservations`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    replayed: res.headers.get('idempotent-replayed') === 'true',
    body: (await res.json()) as Record<string, unknown>,
  };
}

/**
 * Books one stay at stayline and another at the baseline, then at each:
 * replays it, reuses its key for the other stay, and books it again under a
 * new key; throws unless both answer alike (201 CONFIRMED with the same
 * fields; the replay 201 with Idempotent-Replayed and the same id; 422
 * idempotency_key_reused; 409 dates_unavailable). `stays` are two distinct
 * booking bodies nobody else books.
 */
export async function checkSameAnswers(
  gateway: string,
  baseline: string,
  headers: Record<string, string>,
  stays: [unknown, unknown],
): Promise<void> {
  const run = Date.now().toString(36);
  const seen: Record<string, string> = {};
  for (const [i, [name, origin]] of (
    [
      ['stayline', gateway],
      ['baseline', baseline],
    ] as const
  ).entries()) {
    const key = `same-${run}-${name}`;
    const first = await post(origin, headers, key, stays[i]);
    const again = await post(origin, headers, key, stays[i]);
    const other = await post(origin, headers, key, stays[1 - i]);
    const taken = await post(origin, headers, `${key}-taken`, stays[i]);
    const got = [
      `${first.status} ${first.body.status} ${Object.keys(first.body).sort().join(',')}`,
      `${again.status}${again.replayed ? ' replayed' : ''} ${again.body.id === first.body.id ? 'same id' : 'another id'}`,
      `${other.status} ${other.body.error}`,
      `${taken.status} ${taken.body.error ?? taken.body.status}`,
    ].join('; ');
    seen[name] = got;
  }
  const alike =
    /^201 CONFIRMED [^;]+; 201 replayed same id; 422 idempotency_key_reused; 409 dates_unavailable$/;
  if (seen.baseline !== seen.stayline || !alike.test(seen.stayline))
    throw new Error(
      `the baseline does not answer as stayline does:\n  stayline: ${seen.stayline}\n  baseline: ${seen.baseline}`,
    );
}
