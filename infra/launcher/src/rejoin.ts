/**
 * `npm run stack:rejoin -- mariadb-1`: rejoins a fenced old MariaDB primary as
 * a replica of the current one (docs/patterns/failover.md). It restarts with
 * `--init-rpl-role=SLAVE`, so the transactions it logged that no replica
 * acknowledged are discarded; if it had committed some (error 1236, "diverged"),
 * it is rebuilt from a replica instead. The failover agents then publish it as
 * a replica, and the services read from it again.
 */
import path from 'node:path';
import { rejoinAsReplica, Stack } from '@stayline/stack-kit';

const ROOT = path.resolve(__dirname, '../../..');
const STATE_DIR = path.resolve(process.env.STAYLINE_STATE_DIR ?? path.join(ROOT, '.stack'));

async function main(): Promise<void> {
  const name = process.argv.slice(2).find((a) => !a.startsWith('-'));
  if (!name) {
    console.error('usage: npm run stack:rejoin -- <mariadb node, e.g. mariadb-1>');
    process.exitCode = 2;
    return;
  }
  const stack = Stack.attach(STATE_DIR, (l) => console.error(`[stack] ${l}`));
  if (!stack) throw new Error(`no stack recorded in ${STATE_DIR}; start one with npm run stack:up`);
  const t0 = Date.now();
  const { topology, how, detail } = await rejoinAsReplica(stack, name);
  console.log(
    `${name} ${how === 'restarted' ? 'restarted as a replica' : `rebuilt from a replica (it had diverged: ${detail})`} in ${Date.now() - t0} ms`,
  );
  console.log(
    `topology epoch ${topology.epoch}: primary ${topology.primary.name}, replicas ${topology.replicas.map((r) => r.name).join(' ')}`,
  );
}

main().catch((err: Error) => {
  console.error(`rejoin failed: ${err.message}`);
  process.exit(1);
});
