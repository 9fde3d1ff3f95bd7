import http from 'node:http';
import { AddressInfo } from 'node:net';
import { remoteKeySet } from './remote-key-set';
import { SigningKeySet } from './signing-key-set';
import { TokenIssuer } from './token-issuer';
import { RejectionReason, TokenVerifier } from './token-verifier';

const ISS = 'stayline-auth';
const AUD = 'stayline';

describe('a verifier reading the JWKS of a server on loopback', () => {
  let server: http.Server;
  let url: string;
  let keys: SigningKeySet;
  let fetches = 0;
  let failing = false;
  const issuer = new TokenIssuer(() => keys, { issuer: ISS, audience: AUD });
  const reason = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (err: { reason?: RejectionReason }) => err.reason,
    );

  beforeAll(async () => {
    keys = await SigningKeySet.generate();
    server = http.createServer((req, res) => {
      fetches++;
      if (failing) return res.writeHead(503).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys.jwks()));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/auth/.well-known/jwks.json`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  beforeEach(() => {
    fetches = 0;
    failing = false;
  });

  it('fetches once and caches: many verifications, one request', async () => {
    const verifier = new TokenVerifier(remoteKeySet(url), { issuer: ISS, audience: AUD });
    const token = (await issuer.issue('alice', ['user'])).access_token;
    for (let i = 0; i < 5; i++) expect((await verifier.verify(token)).userId).toBe('alice');
    expect(fetches).toBe(1);
  });

  it('fetches again on an unknown kid (a rotation), at most once per cooldown', async () => {
    // every token is made before the clock matters: on a loaded host, generating a key can
    // take longer than a short cooldown and let a fetch through that the test says is not
    const mallory = await SigningKeySet.generate();
    const stranger = new TokenIssuer(() => mallory, { issuer: ISS, audience: AUD });
    const strangers = await Promise.all(
      Array.from({ length: 5 }, async () => (await stranger.issue('m', ['admin'])).access_token),
    );
    const old = (await issuer.issue('alice', ['user'])).access_token;
    const cooldownMs = 2_000;
    const verifier = new TokenVerifier(remoteKeySet(url, { refetchCooldownMs: cooldownMs }), {
      issuer: ISS,
      audience: AUD,
    });
    await verifier.verify(old);
    keys = await keys.rotated(60_000);
    const fresh = (await issuer.issue('bob', ['user'])).access_token;
    await new Promise((r) => setTimeout(r, cooldownMs + 50));
    expect((await verifier.verify(fresh)).userId).toBe('bob');
    expect(fetches).toBe(2);
    expect((await verifier.verify(old)).userId).toBe('alice');
    // tokens naming keys nobody published: refused, with no fetch inside the cooldown
    for (const token of strangers) expect(await reason(verifier.verify(token))).toBe('unknown_key');
    expect(fetches).toBe(2);
  });

  it('answers keys_unavailable when the JWKS cannot be read, and recovers', async () => {
    failing = true;
    const verifier = new TokenVerifier(remoteKeySet(url, { refetchCooldownMs: 0 }), {
      issuer: ISS,
      audience: AUD,
    });
    const token = (await issuer.issue('alice', ['user'])).access_token;
    expect(await reason(verifier.verify(token))).toBe('keys_unavailable');
    failing = false;
    expect((await verifier.verify(token)).userId).toBe('alice');
    const closed = new TokenVerifier(remoteKeySet('http://127.0.0.1:1/jwks.json'), {
      issuer: ISS,
      audience: AUD,
    });
    expect(await reason(closed.verify(token))).toBe('keys_unavailable');
  });

  it("fetches ahead of the cache's end in the background, retrying while that fails, and never trusts a set past its age", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    /** Until the server has seen `n` fetches: the ones ahead run in the background. */
    const fetched = async (n: number) => {
      for (let i = 0; i < 100 && fetches < n; i++) await sleep(20);
      expect(fetches).toBe(n);
    };
    const o = {
      cacheMaxAgeMs: 2_000,
      refreshAheadMs: 750,
      refreshRetryMs: 125,
      refetchCooldownMs: 0,
    };
    const token = (await issuer.issue('alice', ['user'])).access_token;

    // auth gone for a moment near the end of the cache: no verification fails
    const riding = new TokenVerifier(remoteKeySet(url, o), { issuer: ISS, audience: AUD });
    expect((await riding.verify(token)).userId).toBe('alice');
    await fetched(1);
    await sleep(875);
    failing = true;
    expect((await riding.verify(token)).userId).toBe('alice'); // cached; a fetch ahead fails
    await fetched(2);
    await sleep(200);
    expect((await riding.verify(token)).userId).toBe('alice'); // cached; tried again
    await fetched(3);
    failing = false;
    await sleep(200);
    expect((await riding.verify(token)).userId).toBe('alice'); // this fetch ahead succeeds
    await fetched(4);
    await sleep(50);
    failing = true;
    // past the first fetch's cache age, the set fetched ahead serves with auth gone
    await sleep(1_125);
    expect((await riding.verify(token)).userId).toBe('alice');
    await fetched(5); // (that verification tried ahead again)

    // auth gone for good: the set is trusted until its age, then keys_unavailable
    fetches = 0;
    failing = false;
    const bounded = new TokenVerifier(remoteKeySet(url, o), { issuer: ISS, audience: AUD });
    expect((await bounded.verify(token)).userId).toBe('alice');
    failing = true;
    await sleep(1_000);
    expect((await bounded.verify(token)).userId).toBe('alice');
    await fetched(2);
    await sleep(1_250);
    expect(await reason(bounded.verify(token))).toBe('keys_unavailable');
  });

  it('fetches through the given function when one is given (e.g. over discovery), by path', async () => {
    const paths: string[] = [];
    const base = new URL(url);
    const verifier = new TokenVerifier(
      remoteKeySet('http://auth.discovered/api/auth/.well-known/jwks.json', {
        fetch: (u, init) => {
          const path = new URL(u).pathname;
          paths.push(path);
          return fetch(new URL(path, base), { headers: init.headers, signal: init.signal });
        },
      }),
      { issuer: ISS, audience: AUD },
    );
    const token = (await issuer.issue('alice', ['user'])).access_token;
    expect((await verifier.verify(token)).userId).toBe('alice');
    expect(paths).toEqual(['/api/auth/.well-known/jwks.json']);
    expect(fetches).toBe(1);
  });
});
