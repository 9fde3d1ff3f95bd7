/**
 * `npm run stack:add-replica [-- --from mariadb-2]`: builds one more MariaDB
 * replica from an existing replica (never from the loaded primary), and hands
 * it to the leader failover agent, which registers it in discovery and
 * publishes it in the topology: services read from it without a restart
 * (docs/patterns/failover.md).
 */
import path from 'node:path';
import { addReplicaToCluster, Stack } from '@stayline/stack-kit';

const ROOT = path.resolve(__dirname, '../../..');
const STATE_DIR = path.resolve(process.env.STAYLINE_STATE_DIR ?? path.join(ROOT, '.stack'));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--from');
  const from = i >= 0 ? args[i + 1] : undefined;
  const stack = Stack.attach(STATE_DIR, (l) => console.error(`[stack] ${l}`));
  if (!stack) throw new Error(`no stack recorded in ${STATE_DIR}; start one with npm run stack:up`);
  const t0 = Date.now();
  const { node, topology } = await addReplicaToCluster(stack, { from });
  console.log(
    `${node.name} (port ${node.port}) built from a replica and published in ${Date.now() - t0} ms`,
  );
  console.log(
    `topology epoch ${topology.epoch}: primary ${topology.primary.name}, replicas ${topology.replicas.map((r) => r.name).join(' ')}`,
  );
}

main().catch((err: Error) => {
  console.error(`add-replica failed: ${err.message}`);
  process.exit(1);
});
