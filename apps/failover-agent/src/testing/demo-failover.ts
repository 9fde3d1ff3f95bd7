/**
 * `npm run demo:failover [-- --rejoin]`: on the stack `npm run stack:up`
 * started, kills the MariaDB primary under a write load and shows, live, what
 * happens: the agents' detection and decisions (from their logs), every
 * service instance switching to the new epoch, the writes resuming, then the
 * measured failover time and the acknowledged writes lost (0). With
 * `--rejoin`, the old primary then rejoins as a replica.
 * Starts the failover agents first if they do not run yet (ports 4801, 4802;
 * STAYLINE_AGENT_PORTS moves them).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  agentHealth,
  ensureFailoverAgents,
  leaderAgent,
  publishedTopology,
  recordRoles,
  rejoinAsReplica,
  sleep,
  Stack,
  waitFor,
} from '@stayline/launcher';
import { WriteStream } from './write-stream';

const ROOT = path.resolve(__dirname, '../../../..');
const STATE_DIR = path.resolve(process.env.STAYLINE_STATE_DIR ?? path.join(ROOT, '.stack'));
/** Agent log lines worth showing: detection, decision, steps, outcome. */
const SHOWN =
  /did not answer|declared dead|unconfirmed|failing over|done:|elected|deposed|topology published|semi-sync|repointed|fenced|STONITH|resuming/;

let t0 = 0;
const say = (line: string) =>
  console.log(
    `${t0 ? `+${String(Math.round(performance.now() - t0)).padStart(5)} ms  ` : ''}${line}`,
  );

/** Prints the interesting lines agents append to their logs from now on; returns a stop function. */
function tailAgents(stack: Stack): () => void {
  const files = stack
    .byKind('agent')
    .filter((c) => c.meta?.service === 'failover-agent')
    .map((c) => ({ name: c.name, file: c.spec.logFile, at: fs.statSync(c.spec.logFile).size }));
  const timer = setInterval(() => {
    for (const f of files) {
      const size = fs.statSync(f.file).size;
      if (size <= f.at) continue;
      const fd = fs.openSync(f.file, 'r');
      const buf = Buffer.alloc(size - f.at);
      fs.readSync(fd, buf, 0, buf.length, f.at);
      fs.closeSync(fd);
      f.at = size;
      for (const line of buf.toString('utf8').split('\n')) {
        try {
          const entry = JSON.parse(line) as { msg?: string };
          if (entry.msg && SHOWN.test(entry.msg)) say(`${f.name}: ${entry.msg}`);
        } catch {
          // not a log line of ours
        }
      }
    }
  }, 50);
  return () => clearInterval(timer);
}

/** Prints every service instance's switch to a new epoch; resolves the set of instances on `epoch`. */
function watchServices(stack: Stack): {
  stop: () => void;
  on: (epoch: number) => string[];
  all: string[];
} {
  const seen = new Map<string, number>();
  // the dashboard has no database of its own: it has no epoch to switch
  const services = stack.byKind('service').filter((c) => c.meta?.service !== 'dashboard');
  const timer = setInterval(() => {
    for (const s of services) {
      void fetch(`http://${s.host}:${s.port}/health/ready`, { signal: AbortSignal.timeout(1_000) })
        .then(
          (r) =>
            r.json() as Promise<{
              details?: { database?: { epoch?: number; primary?: { name?: string } } };
            }>,
        )
        .then((b) => {
          const db = b.details?.database;
          if (db?.epoch === undefined || seen.get(s.name) === db.epoch) return;
          if (seen.has(s.name))
            say(`${s.name}: database epoch ${db.epoch}, primary ${db.primary?.name} (no restart)`);
          seen.set(s.name, db.epoch);
        })
        .catch(() => undefined);
    }
  }, 100);
  return {
    stop: () => clearInterval(timer),
    on: (epoch) => [...seen].filter(([, e]) => e === epoch).map(([n]) => n),
    all: services.map((s) => s.name),
  };
}

async function main(): Promise<void> {
  const stack = Stack.attach(STATE_DIR);
  if (!stack) throw new Error(`no stack recorded in ${STATE_DIR}; start one with npm run stack:up`);
  const ports = process.env.STAYLINE_AGENT_PORTS?.split(',').map(Number);
  const agents = await ensureFailoverAgents(stack, ports);
  const before = await publishedTopology(stack);
  if (!before) throw new Error('the agents published no topology');
  const leader = await leaderAgent(stack);
  say(
    `agents: ${agents.map((a) => `${a.name}${a.name === leader?.name ? ' (leader)' : ''}`).join(', ')}`,
  );
  say(
    `topology epoch ${before.epoch}: primary ${before.primary.name}, replicas ${before.replicas.map((r) => r.name).join(' ')}`,
  );

  const stream = await WriteStream.start(stack);
  const services = watchServices(stack);
  await sleep(1_500);
  say(
    `load: ${stream.acks.length} writes acknowledged so far by 4 writers through a ReplicaRouter`,
  );
  const stopTail = tailAgents(stack);
  t0 = performance.now();
  say(`SIGKILL -> ${before.primary.name} (the MariaDB primary)`);
  stack.kill(before.primary.name, 'SIGKILL');
  const first = await stream.resumedAfter(t0, 60_000);
  const outageMs = Math.round(first.ackedAt - t0);
  say(`first write accepted on the new primary: the outage was ${outageMs} ms`);
  const after = await publishedTopology(stack);
  if (!after) throw new Error('no topology');
  recordRoles(stack, after);
  await waitFor(
    'every service instance on the new epoch',
    async () => services.on(after.epoch).length === services.all.length,
    { timeoutMs: 15_000, intervalMs: 50 },
  ).catch(() =>
    say(`services on epoch ${after.epoch}: ${services.on(after.epoch).join(' ') || 'none'}`),
  );
  await sleep(1_000);
  stopTail();
  services.stop();

  const lost = await stream.missingOn(stack, after.primary.name);
  const report = (await agentHealth(stack, (await leaderAgent(stack))?.name ?? agents[0].name))
    .lastFailover;
  t0 = 0;
  console.log('');
  say(
    `failover: ${after.fenced?.join(' ')} -> ${after.primary.name}, epoch ${before.epoch} -> ${after.epoch}`,
  );
  if (report) {
    say(
      `  detection ${report.detectionMs} ms (failed probes confirmed by the replicas), failover ${report.totalMs} ms`,
    );
    say(
      `  steps (ms): ${Object.entries(report.steps)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    say(`  old primary: ${report.fence}`);
  }
  say(`  SIGKILL to the first write accepted on the new primary: ${outageMs} ms`);
  say(`  writes acknowledged: ${stream.acks.length}, lost: ${lost.length}`);
  await stream.stop();

  if (process.argv.includes('--rejoin')) {
    const r = await rejoinAsReplica(stack, before.primary.name);
    say(`${before.primary.name} rejoined as a replica (${r.how}); epoch ${r.topology.epoch}`);
  } else {
    say(`rejoin the old primary with: npm run stack:rejoin -- ${before.primary.name}`);
  }
  const status = await stack.status();
  console.log('');
  for (const c of status.components.filter((x) => x.kind === 'mariadb' || x.kind === 'agent'))
    console.log(
      `${c.name.padEnd(18)} ${c.kind.padEnd(8)} ${String(c.role).padEnd(9)} ${c.healthy ? 'healthy' : `DOWN (${c.reason ?? ''})`}`,
    );
  if (lost.length) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`demo failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
