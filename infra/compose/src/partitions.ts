/**
 * `npm run partitions -- --minutes M --seed S`: a seeded random schedule of
 * faults between the compose stack's containers (partitions, one-way cuts,
 * pauses, kills) under a stream of bookings through the gateway, then the
 * checker (docs/patterns/failover.md, "Under partitions"). Runs against the
 * stack `npm run compose:up` started (project `stayline`, gateway on
 * 127.0.0.1:8080; STAYLINE_COMPOSE_PROJECT and STAYLINE_GATEWAY_PORT choose
 * another). Needs root (the nemesis enters the containers' network
 * namespaces). Prints the schedule as it goes and the summary at the end;
 * exits 1 when the checker found anything.
 *
 * `npm run demo:partition -- <fault>` plays one fault of lib/faults.ts
 * (e.g. primary-isolated, payments-slow) the same way: the timeline as it
 * heals, then the checker's table.
 */
import { parseArgs } from 'node:util';
import { summary } from './lib/checker';
import { ComposeStack } from './lib/compose-stack';
import { FAULTS } from './lib/faults';
import { runSchedule } from './lib/schedule';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      minutes: { type: 'string', default: '5' },
      seed: { type: 'string' },
      clients: { type: 'string', default: '4' },
    },
  });
  const minutes = Number(values.minutes);
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isFinite(minutes) || minutes <= 0 || !Number.isInteger(seed)) {
    console.error('usage: npm run partitions -- [--minutes M] [--seed S] [--clients N]');
    process.exitCode = 2;
    return;
  }
  if (process.getuid?.() !== 0) {
    console.error('the nemesis needs root (nsenter into the containers): sudo npm run partitions');
    process.exitCode = 2;
    return;
  }
  const names = FAULTS.map((f) => f.name);
  const unknown = positionals.filter((p) => !names.includes(p));
  if (unknown.length) {
    console.error(`no fault named ${unknown.join(', ')}; one of: ${names.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const env = { ...process.env };
  env.STAYLINE_COMPOSE_PROJECT ??= 'stayline';
  const stack = new ComposeStack(env.STAYLINE_COMPOSE_PROJECT, env);
  console.log(
    `partitions: ${minutes} min, seed ${seed} (replay: npm run partitions -- --minutes ${minutes} --seed ${seed})`,
  );
  const r = await runSchedule(stack, {
    minutes,
    seed,
    clients: Number(values.clients),
    only: positionals,
    rounds: positionals.length ? positionals.length : undefined,
    say: (line) => console.log(line),
  });
  console.log(`\n${r.faults.length} faults, seed ${r.seed}\n${summary(r)}`);
  for (const v of r.violations) console.log(`  VIOLATION ${v.check}: ${v.detail}`);
  process.exitCode = r.violations.length ? 1 : 0;
}

main().then(
  // the summary is out: a straggling request of the workload must not keep the process
  () => process.exit(),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
