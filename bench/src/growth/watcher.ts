/**
 * Child process of the growth scenario: one watcher of a service through the
 * real registry client (its own connections), stamping every time it sees an
 * instance added or removed (an entry whose lease lapsed under load is removed,
 * then added again by its next renewal: the scenario takes the first sighting
 * after the change it made). Its own CPU is what one watcher costs.
 * SIGUSR2 writes the stamps to --out.
 *   run.cjs watcher.ts --backend etcd --target <urls> --service reservation --out f.json
 */
import { childArgs, dump, now, openRegistry, say } from './common';

async function main(): Promise<void> {
  const a = childArgs();
  const registry = openRegistry(a.backend, a.target);
  const seen = new Map<string, number[]>();
  const saw = (key: string) => {
    const times = seen.get(key);
    if (times) times.push(now());
    else seen.set(key, [now()]);
  };
  let changes = 0;
  let size = 0;
  await registry.watch(a.service, (list, change) => {
    changes++;
    size = list.length;
    if (change.kind === 'added') saw(`add ${change.instance.id}`);
    else if (change.kind === 'removed') saw(`remove ${change.id}`);
  });
  say('watching');
  process.on('SIGUSR2', () => {
    dump(a.out, { seen: [...seen], changes, size });
    say('dumped', { seen: seen.size, changes, size });
  });
  process.once('SIGTERM', () => void registry.close().finally(() => process.exit(0)));
  setInterval(() => undefined, 1 << 30);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
