/**
 * `npm run load` against a real stack behind nginx (one instance of auth,
 * payment, recommendation and reservation, MariaDB primary and replica, Redis
 * with Sentinel, the gateway sync): a few seconds at a low rate, its JSON
 * summary checked to add up, and the bookings it reports read back through the
 * API as alice and bob. Then a run without `--keep` gives back every night.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  bearer,
  HttpClient,
  LOAD_GATEWAY_LIMITS,
  login,
  REPO_ROOT,
  Stack,
  startServices,
  startStack,
  waitFor,
} from '@stayline/stack-kit';
import type { LoadReport } from './cli';
import type { KindSummary } from './lib/open-load';

jest.setTimeout(180_000);

const CLI = path.join(__dirname, 'cli.ts');

/** Runs `npm run load -- --url <gw> --json <args>`; its report, once it exited 0. */
async function runLoad(gw: string, args: string[]): Promise<LoadReport> {
  const { code, stdout, stderr } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
  }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'scripts/run.cjs'), CLI, '--url', gw, '--json', ...args],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(stdout) as LoadReport;
}

interface Reservation {
  id: string;
  status: string;
  createdAt: string;
}

const addsUp = (k: KindSummary) => k.ok + k.refused + k.errors + k.dropped + k.skipped;

describe('npm run load on a stack behind nginx', () => {
  let stack: Stack;
  let gw: string;
  const client = new HttpClient();

  beforeAll(async () => {
    stack = await startStack({
      replicas: 1,
      sentinel: true,
      nginx: true,
      gatewayLimits: LOAD_GATEWAY_LIMITS,
    });
    await startServices(stack, {
      instances: 1,
      services: ['auth', 'payment', 'recommendation', 'reservation'],
    });
    gw = stack.nginx.url;
  }, 180_000);

  afterAll(async () => {
    client.close();
    await stack?.stop();
  });

  /** alice's and bob's reservations, read through the gateway. */
  async function reservations(): Promise<Reservation[]> {
    const all: Reservation[] = [];
    for (const user of ['alice', 'bob']) {
      const token = (await login(gw, user)).access_token;
      const reply = await client.request(`${gw}/api/reservations`, { headers: bearer(token) });
      expect(reply.status).toBe(200);
      all.push(...reply.json<{ items: Reservation[] }>().items);
    }
    return all;
  }

  it('schedules every arrival, its counts add up, and the bookings it made are in the API', async () => {
    const report = await runLoad(gw, ['--rate', '20', '--duration', '4', '--keep']);
    const { summary, bookings } = report;
    const kind = (k: string) => summary.kinds.find((s) => s.kind === k) as KindSummary;

    // 20/s for 4 s: 80 arrivals at their intended times, in the mix's shares
    expect(summary.total.count).toBe(80);
    expect(summary.kinds.map((k) => [k.kind, k.count])).toEqual([
      ['browse', 48],
      ['bookings', 8],
      ['book', 16],
      ['cancel', 8],
    ]);
    for (const k of [...summary.kinds, summary.total]) expect(addsUp(k)).toBe(k.count);
    expect(summary.kinds.reduce((s, k) => s + k.ok, 0)).toBe(summary.total.ok);
    // a healthy stack: nothing failed, nothing dropped, every booking confirmed
    expect(summary.total).toMatchObject({ errors: 0, dropped: 0, skipped: 0, reasons: {} });
    expect(kind('book').ok).toBe(16);
    expect(bookings.made).toBe(16);
    expect(bookings.seeded).toBe(4);
    expect(bookings.cancelled).toBe(kind('cancel').ok);
    expect(bookings.cancelled).toBe(8);
    expect(bookings).toMatchObject({ heldAtEnd: 12, cleanedUp: 0 });
    expect(summary.total.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.total.latencyMs.max).toBeGreaterThanOrEqual(summary.total.latencyMs.p99);
    expect(summary.total.achievedRate).toBeGreaterThan(15);

    // read back through the API: the bookings made, the ones cancelled, the rest kept
    const made = bookings.seeded + bookings.made;
    await waitFor(
      `${made} bookings of alice and bob (${bookings.cancelled} cancelled) in GET /api/reservations`,
      async () => {
        const r = await reservations();
        const cancelled = r.filter((x) => x.status === 'CANCELLED').length;
        const confirmed = r.filter((x) => x.status === 'CONFIRMED').length;
        return r.length === made && cancelled === bookings.cancelled && confirmed === 12;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });

  it('without --keep, gives back every night it still held at the end', async () => {
    const { bookings, summary } = await runLoad(gw, ['--rate', '20', '--duration', '2']);
    expect(summary.total.errors).toBe(0);
    expect(bookings.heldAtEnd).toBeGreaterThan(0);
    expect(bookings.cleanedUp).toBe(bookings.heldAtEnd);
    // the first run kept 12: this run's are all cancelled
    await waitFor(
      'every booking of the second run cancelled',
      async () => (await reservations()).filter((x) => x.status === 'CONFIRMED').length === 12,
      { timeoutMs: 10_000, intervalMs: 200 },
    );
  });
});
