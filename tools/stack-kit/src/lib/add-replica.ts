/**
 * Building a MariaDB replica from another replica (the seed's Replication
 * section: rebuilding a standby loads the primary, so keep two secondaries and
 * rebuild from one of them). Natively a cold copy: the source replica stops for
 * the copy (about a second; routers skip it meanwhile), its data directory is
 * copied, it starts again and catches up. In production `mariadb-backup
 * --backup` on the replica does the same without stopping it.
 * See docs/patterns/failover.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { freePorts } from './ports';
import {
  attachReplica,
  dataDir,
  mariadbSpec,
  MariaDbNode,
  rootConnection,
  waitMariaDbReady,
  tmpDir,
  waitReplicating,
} from './mariadb';
import { isAlive, stopProcess } from './process';
import type { Stack } from './stack';
import { Component } from './state';

/** Files of a replica's data directory that describe its own replication, not the data. */
const REPLICATION_FILES = /^(master\.info|relay-log\.info|multi-master\.info|.*relay-bin\..*)$/;

function nodeOf(c: Component): MariaDbNode {
  return {
    name: c.name,
    host: c.host,
    port: c.port,
    serverId: Number(c.meta?.serverId),
    dir: c.dir,
  };
}

/** A healthy replica to copy from: replicating from `primary`, not `except`. */
export async function pickSourceReplica(
  stack: Stack,
  primary: string,
  except: string[] = [],
): Promise<Component> {
  for (const c of stack.byKind('mariadb')) {
    if (c.name === primary || except.includes(c.name) || !isAlive(c.pid)) continue;
    const conn = await rootConnection(nodeOf(c)).catch(() => undefined);
    if (!conn) continue;
    try {
      const [rows] = await conn.query('SHOW SLAVE STATUS');
      const r = (rows as Array<Record<string, unknown>>)[0];
      if (r?.Slave_IO_Running === 'Yes' && r?.Slave_SQL_Running === 'Yes') return c;
    } finally {
      await conn.end();
    }
  }
  throw new Error(`no healthy replica of ${primary} to copy from`);
}

/**
 * Copies `source`'s data (a replica, stopped for the copy and started again)
 * into `target`'s directory, then starts `target` as a replica of `primary`.
 * `target` keeps its own name, port and server id.
 */
export async function cloneReplica(
  stack: Stack,
  source: Component,
  target: Component,
  primary: Component,
): Promise<void> {
  if (isAlive(target.pid)) await stopProcess(target.pid, Object.values(target.ports));
  await stopProcess(source.pid, Object.values(source.ports));
  try {
    fs.rmSync(dataDir(nodeOf(target)), { recursive: true, force: true });
    fs.mkdirSync(tmpDir(nodeOf(target)), { recursive: true });
    fs.cpSync(dataDir(nodeOf(source)), dataDir(nodeOf(target)), {
      recursive: true,
      filter: (src) => !REPLICATION_FILES.test(path.basename(src)),
    });
  } finally {
    await stack.spawn(source, { waitPort: false }); // the source catches up by itself
    await waitMariaDbReady(nodeOf(source), () => isAlive(source.pid));
  }
  target.spec = mariadbSpec(nodeOf(target));
  await stack.spawn(target, { waitPort: false });
  const node = nodeOf(target);
  await waitMariaDbReady(node, () => isAlive(target.pid));
  const conn = await rootConnection(node);
  try {
    await conn.query('STOP SLAVE');
    await conn.query('RESET SLAVE ALL');
  } finally {
    await conn.end();
  }
  await attachReplica(node, primary, stack.credentials);
  await Promise.all([waitReplicating(node), waitReplicating(nodeOf(source))]);
  stack.setRole(target.name, 'replica');
  stack.setRole(source.name, 'replica');
}

/** Options of {@link addReplica}. */
export interface AddReplicaOptions {
  /** The replica to copy from; default a healthy one. */
  from?: string;
  /** Name of the new node; default the next `mariadb-N`. */
  name?: string;
  port?: number;
}

/**
 * Builds a new MariaDB replica from an existing replica and starts it
 * replicating from `primary` (the current one). Registering it with the
 * failover agents (so services read from it) is the caller's next step.
 */
export async function addReplica(
  stack: Stack,
  primary: string,
  o: AddReplicaOptions = {},
): Promise<Component> {
  const existing = stack.byKind('mariadb');
  const source = o.from ? stack.component(o.from) : await pickSourceReplica(stack, primary);
  const name = o.name ?? stack.nextInstanceName('mariadb');
  const serverId = Math.max(...existing.map((c) => Number(c.meta?.serverId ?? 0))) + 1;
  const port = o.port ?? (await freePorts(1))[0];
  const dir = path.join(stack.stateDir, name);
  const target: Component = {
    name,
    kind: 'mariadb',
    role: 'replica',
    host: source.host,
    port,
    ports: { mysql: port },
    dir,
    spec: mariadbSpec({ name, host: source.host, port, serverId, dir }),
    meta: { serverId },
  };
  await cloneReplica(stack, source, target, stack.component(primary));
  return target;
}
