/**
 * Feature flags in etcd (docs/patterns/coordinator.md, "etcd"): one key per
 * flag under `<prefix>/flags/`, its value the JSON FlagValue. A write is
 * acknowledged once a majority of members has it (Raft), so no failover loses
 * it. Watchers read everything once, then follow a watch from that revision:
 * etcd replays what happened while a watch stream was reconnecting, so nothing
 * is lost in between (no periodic reread needed, unlike Redis pub/sub).
 */
import { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { FlagListener, FlagStore } from './flag-store';
import { assertFlagName, FlagSnapshot, FlagValue, flagValueSchema } from './flag-value';
import { CoordinationLogger, silentLogger } from '../logger';

export class EtcdFlagStore implements FlagStore {
  private readonly dir: string;

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly logger: CoordinationLogger = silentLogger,
  ) {
    this.dir = `${prefix}/flags/`;
  }

  async load(): Promise<FlagSnapshot> {
    const res = await this.client.getAll().prefix(this.dir).exec();
    const flags: Record<string, FlagValue> = {};
    for (const kv of res.kvs) {
      const parsed = this.parse(kv);
      if (parsed) flags[parsed[0]] = parsed[1];
    }
    return { version: Number(res.header.revision), flags };
  }

  async write(name: string, value: FlagValue | null): Promise<number> {
    assertFlagName(name);
    const key = this.dir + name;
    const res =
      value === null
        ? await this.client.delete().key(key).exec()
        : await this.client
            .put(key)
            .value(JSON.stringify(flagValueSchema.parse(value)))
            .exec();
    return Number(res.header.revision);
  }

  async watch(listener: FlagListener): Promise<() => Promise<void>> {
    const first = await this.load();
    const flags: Record<string, FlagValue> = { ...first.flags };
    let version = first.version;
    listener({ version, flags: { ...flags } }, []);
    const watcher: Watcher = await this.client
      .watch()
      .prefix(this.dir)
      .startRevision(String(first.version + 1))
      .create();
    watcher.on('data', (res) => {
      const changed: string[] = [];
      for (const event of res.events) {
        const name = event.kv.key.toString().slice(this.dir.length);
        if (event.type === 'Delete') delete flags[name];
        else {
          const parsed = this.parse(event.kv);
          if (!parsed) continue;
          flags[name] = parsed[1];
        }
        changed.push(name);
        version = Math.max(version, Number(event.kv.mod_revision));
      }
      if (changed.length) listener({ version, flags: { ...flags } }, changed);
    });
    watcher.on('error', (err) =>
      this.logger.warn({ err: err.message }, 'flag watch error (reconnecting)'),
    );
    return async () => {
      await watcher.cancel().catch(() => undefined);
    };
  }

  private parse(kv: IKeyValue): [string, FlagValue] | undefined {
    const name = kv.key.toString().slice(this.dir.length);
    try {
      return [name, flagValueSchema.parse(JSON.parse(kv.value.toString()))];
    } catch {
      this.logger.warn({ flag: name }, 'ignoring an invalid flag value');
      return undefined;
    }
  }
}
