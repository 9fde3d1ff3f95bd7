/**
 * Child process of the growth scenario: N lightweight instances registered by
 * the real registry client (one client, one lease per instance, renewed as a
 * service renews its own), then, from SIGUSR1, `churn` of them per second
 * replaced: one deregistered and a new one registered. Every change is stamped
 * when its call begins. SIGUSR2 stops the churn and writes the stamps to --out;
 * SIGTERM deregisters every instance left and exits.
 *   run.cjs registrants.ts --backend redis --target <url> --service reservation --n 1000 --churn 0.05 --out f.json
 */
import { describeInstance, Registration } from '@stayline/discovery';
import { childArgs, dump, now, openRegistry, pool, say } from './common';

/** The first HTTP port handed out: nothing listens there; the gateway only renders it. */
const PORT_BASE = 20_000;
/** How often the churn catches up with its rate. */
const TICK_MS = 20;

async function main(): Promise<void> {
  const a = childArgs();
  const n = Number(a.n);
  const churn = Number(a.churn ?? 0.05);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--n must be a positive integer, not ${a.n}`);
  const registry = openRegistry(a.backend, a.target);
  const live = new Map<string, Registration>();
  /** [change, instance id, when its call began] */
  const stamps: Array<['add' | 'remove', string, number]> = [];
  let seq = 0;
  let failures = 0;

  const add = async (stamp: boolean) => {
    const i = seq++;
    const id = `${a.service}-g${i}`;
    const instance = describeInstance({
      service: a.service,
      id,
      host: '127.0.0.1',
      httpPort: PORT_BASE + (i % 40_000),
    });
    if (stamp) stamps.push(['add', id, now()]);
    try {
      live.set(id, await registry.register(instance));
    } catch {
      failures++;
    }
  };
  const remove = async (id: string) => {
    const r = live.get(id);
    if (!r) return;
    live.delete(id);
    stamps.push(['remove', id, now()]);
    await r.deregister().catch(() => failures++);
  };

  await pool(
    Array.from({ length: n }, () => false),
    64,
    (stamp) => add(stamp),
  );
  say('registered', { n: live.size, failures });

  let churning: NodeJS.Timeout | undefined;
  process.on('SIGUSR1', () => {
    if (churning) return;
    let due = 0;
    let last = performance.now();
    say('churning', { perS: churn * n });
    churning = setInterval(() => {
      const t = performance.now();
      due += ((t - last) / 1000) * churn * n;
      last = t;
      for (; due >= 1; due--) {
        const ids = [...live.keys()];
        const victim = ids[Math.floor(Math.random() * ids.length)];
        void remove(victim);
        void add(true);
      }
    }, TICK_MS);
  });
  process.on('SIGUSR2', () => {
    clearInterval(churning);
    churning = undefined;
    dump(a.out, { stamps, failures, live: live.size });
    say('dumped', { stamps: stamps.length, failures });
  });
  process.once('SIGTERM', () => {
    clearInterval(churning);
    void pool([...live.values()], 64, (r) => r.deregister().catch(() => undefined))
      .finally(() => registry.close())
      .finally(() => process.exit(0));
  });
  setInterval(() => undefined, 1 << 30);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
