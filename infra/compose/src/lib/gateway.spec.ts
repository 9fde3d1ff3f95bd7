import { setTimeout as sleep } from 'node:timers/promises';
import { type AccessToken, waitFor } from '@stayline/stack-kit';
import { booking, HeldTokens } from './gateway';

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
