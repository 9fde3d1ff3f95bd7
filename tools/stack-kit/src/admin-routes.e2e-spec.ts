/**
 * The admin routes take an operator's access token, and nothing else: on a
 * service (`/admin/flags`), on auth (`/admin/keys`) and on a failover agent
 * (`/admin/switchover`), each on its own port as an operator reaches it. A
 * user's token is a 403 `insufficient_scope`, no token a 401, and the old
 * shared admin secret (ADMIN_TOKEN, which the deployments still pass) a 401
 * like any string that is not a token. The agents verify with the keys
 * auth publishes, found through the registry: while no auth instance answers,
 * an agent that holds the keys still serves its admin routes, one that never
 * fetched them answers 503 until auth is back.
 */
import {
  adminToken,
  Component,
  DEV_ADMIN_TOKEN,
  httpJson,
  JsonReply,
  leaderAgent,
  login,
  Stack,
  startFailoverAgents,
  startService,
  startStack,
  waitFor,
} from './index';

jest.setTimeout(180_000);

describe('admin routes need a token with the admin scope (real MariaDB, Redis, auth, a service, two agents)', () => {
  let stack: Stack;
  let auth: Component;
  let payment: Component;
  let leader: Component;
  let follower: Component;
  let operator: string;
  let user: string;
  const base = (c: Component) => `http://${c.host}:${c.ports.http}`;

  beforeAll(async () => {
    stack = await startStack({ replicas: 1, nginx: false });
    auth = await startService(stack, { service: 'auth', tcpPort: 'none' });
    payment = await startService(stack, { service: 'payment' });
    const agents = await startFailoverAgents(stack);
    leader = (await leaderAgent(stack)) as Component;
    follower = agents.find((a) => a.name !== leader.name) as Component;
    operator = await adminToken(stack);
    user = (await login(base(auth), 'alice')).access_token;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** One admin route per kind of process; `ok` is the status an operator gets. */
  const routes = () => [
    { what: 'a service', url: `${base(payment)}/admin/flags`, method: 'GET', ok: 200 },
    { what: 'auth', url: `${base(auth)}/admin/keys`, method: 'GET', ok: 200 },
    {
      what: 'the leader agent',
      url: `${base(leader)}/admin/switchover`,
      method: 'POST',
      body: { target: 'mariadb-9' },
      ok: 400, // past the guard: no such node to switch to, nothing changes
    },
  ];
  const call = (r: ReturnType<typeof routes>[number], token?: string): Promise<JsonReply> =>
    httpJson(r.url, { method: r.method, body: r.body, token, timeoutMs: 10_000 });

  it('gives an operator what it asks for', async () => {
    for (const r of routes()) {
      const res = await call(r, operator);
      expect({ what: r.what, status: res.status }).toEqual({ what: r.what, status: r.ok });
    }
    const refused = await call(routes()[2], operator);
    expect(refused.body).toMatchObject({ error: 'switchover_refused' });
  });

  it("refuses a user's token with 403 insufficient_scope and a challenge naming the scope", async () => {
    for (const r of routes()) {
      const res = await fetch(r.url, {
        method: r.method,
        headers: { authorization: `Bearer ${user}`, 'content-type': 'application/json' },
        body: r.body ? JSON.stringify(r.body) : undefined,
      });
      expect({ what: r.what, status: res.status }).toEqual({ what: r.what, status: 403 });
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer realm="stayline", error="insufficient_scope", scope="admin"',
      );
      expect(await res.json()).toMatchObject({
        error: 'insufficient_scope',
        message: 'this route needs the scope admin',
      });
    }
  });

  it('refuses no token, and the shared admin secret, with 401', async () => {
    for (const r of routes()) {
      const none = await fetch(r.url, { method: r.method });
      expect({ what: r.what, status: none.status }).toEqual({ what: r.what, status: 401 });
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="stayline"');
      const shared = await call(r, DEV_ADMIN_TOKEN);
      expect({ what: r.what, status: shared.status }).toEqual({ what: r.what, status: 401 });
      expect(shared.body).toMatchObject({ error: 'unauthorized' });
    }
  });

  it('lets an agent that holds the keys serve its admin routes while auth is down; one that never fetched them answers 503 until auth is back', async () => {
    await stack.stopComponent(auth.name);
    let back = false;
    try {
      const switchover = (agent: Component) =>
        httpJson(`${base(agent)}/admin/switchover`, {
          method: 'POST',
          body: { target: 'mariadb-9' },
          token: operator,
          timeoutMs: 10_000,
        });
      // the leader fetched the keys for the tests above: its cache still holds them
      expect((await switchover(leader)).status).toBe(400);
      const cold = await switchover(follower);
      expect(cold.status).toBe(503);
      expect(cold.body).toMatchObject({ error: 'keys_unavailable' });
      await stack.restart(auth.name);
      back = true;
      await waitFor(
        'the follower to verify the token once auth is back',
        async () => (await switchover(follower)).status === 409, // past the guard: not the leader
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    } finally {
      if (!back) await stack.restart(auth.name);
    }
  });
});
