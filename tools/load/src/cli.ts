/**
 * `npm run load`: an open-model load on the running stack's gateway. Arrivals
 * at a constant rate, at fixed intended times; latency from those times
 * (corrected for coordinated omission) in HdrHistograms; a mix of browsing,
 * reading one's bookings, booking and cancelling, as users with tokens. A
 * progress line every second on a terminal, a table per kind at the end.
 *   npm run load -- --rate 50 --duration 20
 *   npm run load -- --rate 200 --mix browse=80,book=20 --json
 * See docs/load.md.
 */
import { HttpSender } from './lib/http-sender';
import { OpenLoad, type LoadSummary } from './lib/open-load';
import { formatMix, OptionError, parseOptions, USAGE, type LoadCliOptions } from './lib/options';
import { progressLine, summaryTable } from './lib/report';
import { LoadUsers, StaylineTraffic, type BookingCounts } from './lib/traffic';

/** Seconds of cancels booked before the clock, so the first cancels have something to cancel. */
const SEED_SECONDS = 2;
const MAX_SEED = 200;

/** What `--json` prints. */
export interface LoadReport {
  url: string;
  users: number;
  mix: LoadCliOptions['mix'];
  connections: number;
  summary: LoadSummary;
  bookings: BookingCounts & {
    /** Held when the clock stopped; cancelled afterwards unless `--keep`. */
    heldAtEnd: number;
    cleanedUp: number;
  };
  /** Requests sent again after a cut on a reused idle connection. */
  resent: number;
}

const say = (line: string) => console.error(line);

async function main(): Promise<number> {
  let o: LoadCliOptions;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof OptionError)) throw err;
    say(`npm run load: ${err.message}`);
    return 2;
  }
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const sender = new HttpSender(o.url, o.connections);
  let users: LoadUsers | undefined;
  try {
    let started: Awaited<ReturnType<typeof LoadUsers.start>>;
    try {
      started = await LoadUsers.start({ url: o.url, count: o.users });
    } catch (err) {
      say(
        `npm run load: could not log in at ${o.url}: ${(err as Error).message}\n` +
          'is the stack up? `npm start` or `npm run stack:up` (or --url for another loopback gateway)',
      );
      return 1;
    }
    users = started.users;
    say(`[load] ${started.how}`);
    const traffic = await StaylineTraffic.prepare(sender, users);
    const load = new OpenLoad({
      rate: o.rate,
      durationS: o.durationS,
      maxRequests: o.maxRequests,
      weights: o.mix,
      timeoutMs: o.timeoutS * 1000,
      send: (a) => traffic.send(a),
    });
    const weights = Object.values(o.mix).reduce((s, w) => s + w, 0);
    const cancelsPerS = (o.rate * o.mix.cancel) / weights;
    const seed = Math.min(MAX_SEED, Math.ceil(cancelsPerS * SEED_SECONDS - 1e-9));
    if (seed > 0) {
      await traffic.seed(seed);
      say(`[load] ${traffic.counts.seeded} bookings made before the clock (for the first cancels)`);
    }
    say(
      `[load] ${o.url}: ${o.rate} req/s for ${o.durationS} s (${load.scheduled} arrivals), ` +
        `${o.users} user(s), mix ${formatMix(o.mix)}, at most ${o.connections} connections`,
    );
    const tty = process.stderr.isTTY && !o.json;
    const progress = tty
      ? setInterval(
          () => process.stderr.write(`\r\x1b[K${progressLine(load.progress(), o.rate)}`),
          1000,
        )
      : undefined;
    const onSignal = () => {
      say('\n[load] stopping: waiting for the requests in flight (Ctrl-C again to quit now)');
      process.once('SIGINT', () => process.exit(130));
      load.stop();
    };
    process.once('SIGINT', onSignal);
    const summary = await load.run();
    process.off('SIGINT', onSignal);
    if (progress) {
      clearInterval(progress);
      process.stderr.write('\n');
    }
    const heldAtEnd = traffic.held;
    let cleanedUp = 0;
    if (!o.keep && heldAtEnd > 0) {
      const { cancelled, failed } = await traffic.cleanup();
      cleanedUp = cancelled;
      const why = Object.entries(failed).map(([reason, n]) => `${reason}: ${n}`);
      say(
        `[load] cancelled ${cancelled} of the ${heldAtEnd} bookings the run still held (--keep keeps them)` +
          (why.length ? `; not cancelled: ${why.join(', ')}` : ''),
      );
    }
    const report: LoadReport = {
      url: o.url,
      users: o.users,
      mix: o.mix,
      connections: o.connections,
      summary,
      bookings: { ...traffic.counts, heldAtEnd, cleanedUp },
      resent: sender.resent,
    };
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(summaryTable(summary));
      const b = report.bookings;
      console.log(
        `bookings: ${b.made} made and ${b.cancelled} cancelled by the mix (${b.seeded} made before the clock), ` +
          `${heldAtEnd} held at the end${o.keep ? ' (kept)' : `, ${cleanedUp} of them cancelled after the run`}` +
          (report.resent ? `; ${report.resent} requests resent after a cut idle connection` : ''),
      );
    }
    return 0;
  } finally {
    users?.close();
    sender.close();
  }
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    say(`npm run load: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  },
);
