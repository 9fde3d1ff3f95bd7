/**
 * The fencing check on etcd (docs/patterns/coordinator.md): the newest accepted
 * `{ token, value }` in one key, replaced only by a transaction that compares
 * the key's mod revision with the one read, so two writers cannot interleave.
 */
import { Etcd3 } from 'etcd3';
import { FencedResource } from './fenced-resource';

export class EtcdFencedResource implements FencedResource {
  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
  ) {}

  async write(token: number, value: string): Promise<boolean> {
    for (;;) {
      const res = await this.client.get(this.key).exec();
      const kv = res.kvs[0];
      const current = kv ? (JSON.parse(kv.value.toString()) as { token: number }) : undefined;
      if (current && current.token > token) return false;
      const tx = await this.client
        .if(this.key, 'Mod', '==', kv ? Number(kv.mod_revision) : 0)
        .then(this.client.put(this.key).value(JSON.stringify({ token, value })))
        .commit();
      if (tx.succeeded) return true;
    }
  }

  async read(): Promise<{ token: number; value: string } | undefined> {
    const raw = await this.client.get(this.key).string();
    return raw ? (JSON.parse(raw) as { token: number; value: string }) : undefined;
  }
}
