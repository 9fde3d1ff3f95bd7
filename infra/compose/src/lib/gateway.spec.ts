import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AccessToken, waitFor } from '@stayline/stack-kit';
import { historyOf } from './checker';
import { booking, BookingRun, HeldTokens } from './gateway';

const token = (access_token: string, expiresInS: number): AccessToken => ({
  access_token,
  token_type: 'Bearer',
  expires_in: expiresInS,
  scope: 'user',
});

describe('a booking body', () => {
  it('names no user: the user is the token’s subject', () => {
    const body = JSON.parse(booking('jeju-03', 2));
    expect(Object.keys(body).sort()).toEqual(['checkIn', 'checkOut', 'guests', 'listingId']);
    expect(Date.parse(body.checkOut) - Date.parse(body.checkIn)).toBe(86_400_000);
  });
});

describe('tokens held for a run', () => {
  it('renews a token when a third of its life is left, and keeps the last one while renewing fails', async () => {
    // each token lives 60 ms: due for renewal after 40 ms
    let next = 0;
    let failing = false;
    const asked: string[] = [];
    const held = await HeldTokens.start('http://unused', ['alice', 'bob'], {
      renewEveryMs: 10,
      source: async (user) => {
        asked.push(user);
        if (failing) throw new Error('auth unreachable');
        return token(`${user}-${next++}`, 0.06);
      },
    });
    try {
      const first = held.headers('alice').authorization;
      expect(first).toMatch(/^Bearer alice-\d+$/);
      expect(held.headers('bob').authorization).toMatch(/^Bearer bob-\d+$/);

      failing = true;
      const before = asked.length;
      // it tries again and again, and goes on sending the last token it had (a 401 once expired)
      await waitFor('renewals that fail', () => asked.length >= before + 6, { timeoutMs: 10_000 });
      const stale = held.headers('alice').authorization;
      expect(stale).toMatch(/^Bearer alice-\d+$/);
      await sleep(100);
      expect(held.headers('alice').authorization).toBe(stale);

      failing = false;
      await waitFor('a renewed token', () => held.headers('alice').authorization !== stale, {
        timeoutMs: 10_000,
      });
    } finally {
      await held.stop();
    }
  });

  it('retries the first login until it works', async () => {
    let tries = 0;
    const held = await HeldTokens.start('http://unused', ['alice'], {
      source: async (user) => {
        if (++tries < 3) throw new Error('gateway not ready');
        return token(`${user}-t`, 900);
      },
    });
    try {
      expect(tries).toBe(3);
      expect(held.headers('alice')).toEqual({ authorization: 'Bearer alice-t' });
      expect(() => held.headers('bob')).toThrow(/no token held for bob/);
    } finally {
      await held.stop();
    }
  });
});

describe('a booking run that cancels as it goes (against a stand-in gateway)', () => {
  /** Books anything, answers the first `failCancels` cancels 503, then cancels; tokens name their user. */
  async function standIn(failCancels: number) {
    const state = {
      booked: new Map<string, { user: string; cancelled: boolean }>(),
      cancelsSeen: [] as Array<{ id: string; user: string; status: number }>,
      failing: failCancels,
    };
    let ids = 0;
    const server = http.createServer((req, res) => {
      const user = String(req.headers.authorization ?? '').replace('Bearer tok-', '');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.url === '/api/auth/token')
          return send(
            200,
            token(`tok-${(JSON.parse(body) as { username: string }).username}`, 900),
          );
        if (req.url?.startsWith('/api/listings'))
          return send(200, { items: [{ id: 'l-1' }, { id: 'l-2' }] });
        if (req.url === '/api/reservations' && req.method === 'POST') {
          const id = `r-${++ids}`;
          state.booked.set(id, { user, cancelled: false });
          return send(201, { id });
        }
        const m = /^\/api\/reservations\/([^/]+)\/cancel$/.exec(req.url ?? '');
        if (m) {
          const r = state.booked.get(m[1]);
          const status = !r || r.user !== user ? 404 : state.failing-- > 0 ? 503 : 200;
          state.cancelsSeen.push({ id: m[1], user, status });
          if (status === 200 && r) r.cancelled = true;
          return send(status, { id: m[1] });
        }
        send(404, { error: 'not_found' });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    return { state, url: `http://127.0.0.1:${port}`, close: () => server.close() };
  }

  it('cancels its oldest bookings by their own users, sends a failed cancel again, and frees the rest at the end', async () => {
    const gw = await standIn(3);
    const run = await BookingRun.start(gw.url, 2, { churn: 5 });
    try {
      await waitFor(
        'some cancels',
        () => gw.state.cancelsSeen.filter((c) => c.status === 200).length >= 10,
        {
          timeoutMs: 20_000,
        },
      );
      await run.stop();
      const history = historyOf(
        run.load.samples,
        (n) => run.keyOf(n),
        (n) => run.cancelOf(n),
      );
      const cancels = history.filter((o) => o.cancels);
      const books = history.filter((o) => !o.cancels);
      // every cancel is of a booking the run made and was told of, never the other way round
      const made = new Set(books.flatMap((o) => o.reservationId ?? []));
      expect(cancels.every((o) => made.has(o.cancels as string))).toBe(true);
      expect(books.every((o) => o.key.startsWith('compose-') && !o.cancels)).toBe(true);
      // the three 503s were sent again, and then cancelled
      const failed = gw.state.cancelsSeen.filter((c) => c.status === 503).map((c) => c.id);
      expect(failed).toHaveLength(3);
      for (const id of failed)
        expect(gw.state.cancelsSeen.some((c) => c.id === id && c.status === 200)).toBe(true);
      // no cancel was refused as another user's
      expect(gw.state.cancelsSeen.some((c) => c.status === 404)).toBe(false);
      // it keeps few bookings live: one over the churn bound, plus per worker one answered
      // since its last look and one whose cancel is on its way
      const live = [...gw.state.booked.values()].filter((r) => !r.cancelled).length;
      expect(live).toBeLessThanOrEqual(5 + 1 + 2 * 2);
      const { failed: left } = await run.finish();
      expect(left).toBe(0);
      expect([...gw.state.booked.values()].every((r) => r.cancelled)).toBe(true);
    } finally {
      await run.stop();
      gw.close();
    }
  }, 30_000);
});
