/**
 * One-shot set-up of the datastores' logins where they run in containers (the
 * compose file's `redis-auth` and `etcd-auth` jobs; Kubernetes can run the
 * same): the users, rules and roles of the one table in libs/contracts
 * (redis-acl.ts, etcd-auth.ts), the very code the native stack kit runs.
 *
 *   datastore-auth.js redis-files --out DIR [--owner UID:GID]
 *       DIR/users.acl (the data nodes' ACL file), DIR/redis.conf (names that
 *       file, and how a replica logs in to its primary), DIR/sentinel-auth.conf
 *       (a Sentinel's users and how it logs in to the data nodes and to the
 *       other Sentinels); each mode 0600, owned by UID:GID (the Redis image's
 *       user) when given.
 *   datastore-auth.js etcd --endpoints http://etcd-1:2379,...
 *       waits for the members, creates root, the roles and users, turns auth
 *       on; again on a cluster with auth on, it sets the passwords and the
 *       roles' permissions to the table's.
 *
 * Passwords come from the same variables as the native stack's:
 * STAYLINE_REDIS_<ROLE>_PASSWORD, STAYLINE_SENTINEL_PASSWORD,
 * STAYLINE_ETCD_<ROLE>_PASSWORD, STAYLINE_ETCD_ROOT_PASSWORD (.env.example).
 * Outside STAYLINE_PROFILE=dev, a public `dev-only-*` value (or an unset
 * variable, which falls back to one) is refused, naming the variable.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ETCD_ROLES,
  REDIS_ROLES,
  redisReplicationAuthLines,
  renderRedisAclFile,
  sentinelAuthLines,
} from '@stayline/contracts';
import {
  applyEtcdAuth,
  credentialsFromEnv,
  etcdPasswordsFromEnv,
  etcdPasswordVariable,
  redisPasswordVariable,
  SENTINEL_CLIENT_PASSWORD_VARIABLE,
  SENTINEL_MASTER_NAME,
} from '@stayline/stack-kit';
import {
  DEV_ONLY_PREFIX,
  DEV_PROFILE,
  isDevProfile,
  PROFILE_VARIABLE,
} from '@stayline/service-runtime';

/** The variables among `names` whose value (or fallback) is a public dev-only one, outside the dev profile. */
export function devOnlyOutsideDev(
  values: Record<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (isDevProfile(env)) return [];
  return Object.entries(values)
    .filter(([, value]) => value.startsWith(DEV_ONLY_PREFIX))
    .map(([name]) => name);
}

function refuseDevOnly(values: Record<string, string>, env: NodeJS.ProcessEnv): void {
  const bad = devOnlyOutsideDev(values, env);
  if (bad.length)
    throw new Error(
      `${bad.join(', ')}: unset or a public ${DEV_ONLY_PREFIX}* value, accepted only with ${PROFILE_VARIABLE}=${DEV_PROFILE}: set a secret of its own`,
    );
}

/** The files of `redis-files`, by name: what each holds. */
export function redisAuthFiles(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const c = credentialsFromEnv(env);
  refuseDevOnly(
    {
      ...Object.fromEntries(REDIS_ROLES.map((r) => [redisPasswordVariable(r), c.redis[r]])),
      [SENTINEL_CLIENT_PASSWORD_VARIABLE]: c.sentinelClient,
    },
    env,
  );
  return {
    'users.acl': renderRedisAclFile(c.redis),
    'redis.conf': [
      `aclfile ${path.join(dir, 'users.acl')}`,
      ...redisReplicationAuthLines(c.redis.replica),
      '',
    ].join('\n'),
    'sentinel-auth.conf': [
      ...sentinelAuthLines(SENTINEL_MASTER_NAME, {
        sentinel: c.redis.sentinel,
        admin: c.redis.admin,
        client: c.sentinelClient,
      }),
      '',
    ].join('\n'),
  };
}

function writeRedisFiles(dir: string, owner: string | undefined, env: NodeJS.ProcessEnv): void {
  const files = redisAuthFiles(dir, env);
  const [uid, gid] = owner ? owner.split(':').map(Number) : [];
  if (owner && !(Number.isInteger(uid) && Number.isInteger(gid)))
    throw new Error(`--owner ${owner}: expected UID:GID`);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.rmSync(file, { force: true }); // a left-over keeps its owner and mode: start from a new file
    fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    if (owner) fs.chownSync(file, uid, gid);
  }
  console.log(`redis-auth: ${Object.keys(files).join(', ')} written to ${dir}`);
}

async function setUpEtcd(endpoints: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const passwords = etcdPasswordsFromEnv(env);
  refuseDevOnly(
    Object.fromEntries(
      [...ETCD_ROLES, 'root' as const].map((r) => [etcdPasswordVariable(r), passwords[r]]),
    ),
    env,
  );
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await applyEtcdAuth(endpoints, passwords);
      break;
    } catch (err) {
      // the members may still be electing a leader: again until the deadline
      if (Date.now() > deadline) throw err;
      console.error(`etcd-auth: not yet (${(err as Error).message.split('\n')[0]}), again in 1 s`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  console.log(
    `etcd-auth: root, ${ETCD_ROLES.length} roles and users, auth on (${endpoints.join(',')})`,
  );
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const [what, ...rest] = argv;
  if (what === 'redis-files') {
    const out = option(rest, '--out');
    if (!out) throw new Error('usage: datastore-auth redis-files --out DIR [--owner UID:GID]');
    writeRedisFiles(out, option(rest, '--owner'), env);
  } else if (what === 'etcd') {
    const endpoints = option(rest, '--endpoints')
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!endpoints?.length) throw new Error('usage: datastore-auth etcd --endpoints URL[,URL...]');
    await setUpEtcd(endpoints, env);
  } else {
    throw new Error('usage: datastore-auth redis-files --out DIR | etcd --endpoints URL[,URL...]');
  }
}

if (require.main === module)
  main(process.argv.slice(2), process.env).catch((err) => {
    console.error(`datastore-auth: ${(err as Error).message}`);
    process.exit(1);
  });
