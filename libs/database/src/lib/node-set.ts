import { DatabaseNode } from './database-node';
import { isNodeFailure } from './errors';
import { ResolvedRouterOptions } from './router-options';
import { NodeAddress, sameAddress, Topology } from './topology';

/** What a topology switch did. */
export interface SwitchReport {
  previous: Topology;
  /** Writes cut off on the demoted primary. */
  writesCut: number;
  /** Nodes whose pools were closed. */
  closed: string[];
}

/**
 * The nodes of the current topology, one {@link DatabaseNode} (pool) each, and
 * the switch between topologies: nodes that stay keep their pools, new ones are
 * opened before the switch, the switch itself is synchronous (no write can
 * start on the old primary after it), then the old primary's running writes are
 * cut and dropped nodes closed (fenced ones at once, others after their reads).
 */
export class NodeSet {
  private nodes = new Map<string, DatabaseNode>();

  constructor(
    private current: Topology,
    private readonly createNode: (address: NodeAddress) => DatabaseNode,
    private readonly drainMs: number,
  ) {}

  /** The topology in force. */
  get topology(): Topology {
    return this.current;
  }

  /** The pool of the current primary. */
  primary(): DatabaseNode {
    const node = this.nodes.get(this.current.primary.name);
    if (!node) throw new Error(`no pool for the primary ${this.current.primary.name}`);
    return node;
  }

  /** The pool of a node of the current topology. */
  node(name: string): DatabaseNode | undefined {
    return this.nodes.get(name);
  }

  /**
   * Opens every node. Throws what is not a node failure (credentials, unknown
   * database, bad entities); returns the nodes that are down (opened on use).
   */
  async open(): Promise<Array<{ name: string; error: unknown }>> {
    for (const addr of addresses(this.current)) this.nodes.set(addr.name, this.createNode(addr));
    const nodes = [...this.nodes.values()];
    const opened = await Promise.allSettled(nodes.map((n) => n.ready()));
    const down: Array<{ name: string; error: unknown }> = [];
    for (const [i, r] of opened.entries()) {
      if (r.status === 'fulfilled') continue;
      if (!isNodeFailure(r.reason)) throw r.reason;
      down.push({ name: nodes[i].name, error: r.reason });
    }
    return down;
  }

  /** Switches to `next` unless `cancelled()` by the time the new nodes are open. */
  async switchTo(next: Topology, cancelled: () => boolean): Promise<SwitchReport | undefined> {
    const before = this.nodes;
    const after = new Map<string, DatabaseNode>();
    for (const addr of addresses(next)) {
      const kept = before.get(addr.name);
      after.set(addr.name, kept && sameAddress(kept.address, addr) ? kept : this.createNode(addr));
    }
    // open new nodes first (bounded by the connect timeout) so the first writes do not pay for it
    const fresh = [...after.values()].filter((n) => before.get(n.name) !== n);
    await Promise.allSettled(fresh.map((n) => n.ready()));
    if (cancelled()) {
      await Promise.all(fresh.map((n) => n.close(0)));
      return undefined;
    }

    const previous = this.current;
    this.current = next;
    this.nodes = after;
    const demoted = previous.primary.name !== next.primary.name;
    const writesCut = demoted ? (before.get(previous.primary.name)?.abortWrites() ?? 0) : 0;
    const fenced = new Set(next.fenced ?? []);
    const closed: string[] = [];
    for (const [name, node] of before) {
      if (after.get(name) === node) continue;
      void node.close(fenced.has(name) ? 0 : this.drainMs);
      closed.push(name);
    }
    return { previous, writesCut, closed };
  }

  /** Closes every pool; running work gets `drainMs`. */
  async close(drainMs: number): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.close(drainMs)));
  }
}

/** Builds a node's pool the way the router's options say. */
export function nodeFactory(o: ResolvedRouterOptions): (address: NodeAddress) => DatabaseNode {
  return (address) =>
    new DatabaseNode(address, (node, driver) => ({
      type: 'mariadb',
      driver,
      host: node.host,
      port: node.port,
      username: o.user,
      password: o.password,
      database: o.database,
      entities: o.entities,
      poolSize: o.poolSize,
      connectTimeout: o.connectTimeoutMs,
      charset: 'utf8mb4_unicode_ci',
      timezone: 'Z',
      // no query cache: a cached replica read keeps its staleness after the replica caught up
      cache: false,
      synchronize: false,
      migrationsRun: false,
      logging: false,
      // no stack captured on every query for an error that rarely comes: TypeORM's
      // QueryFailedError has the caller's stack already
      extra: { trace: false },
    }));
}

function addresses(t: Topology): NodeAddress[] {
  return [t.primary, ...t.replicas];
}
