/**
 * The scripts the manifests mount, run here: the Redis and Sentinel start scripts with
 * stand-ins for redis-cli, redis-server, redis-sentinel, getent and sleep (each situation
 * a Redis pod can start in), and the STONITH script against a stand-in Kubernetes API
 * over TLS (deleted, replaced, never confirmed, refused).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BASE_DIR } from './lib/layout';

const ROOT = path.resolve(BASE_DIR, '../../..');
const REDIS_DIR = path.join(BASE_DIR, 'redis');
const TEMPLATE = path.join(ROOT, 'infra/docker/redis/sentinel.conf.template');
const POD_IP = '10.244.2.31';
const ADMIN_PASSWORD = 'admin-password-for-the-stand-ins';
/** What the redis-auth initContainer writes (infra/launcher datastore-auth.ts), in short. */
const AUTH_FILES = {
  'redis.conf': 'aclfile /etc/stayline/auth/users.acl\nmasteruser stayline-replica\n',
  'sentinel-auth.conf': 'user default off\nsentinel auth-user stayline stayline-sentinel\n',
};

describe('the Redis and Sentinel start scripts', () => {
  let dir: string;
  let fake: string;

  /** Stand-ins: answers come from files in `fake/` (sentinel-<host>, role-<ip>, ip-<name>). */
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-redis-scripts-'));
    fake = path.join(dir, 'fake');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(fake);
    fs.mkdirSync(bin);
    const tool = (name: string, body: string) =>
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    tool(
      'redis-cli',
      [
        `F=${fake}; echo "$*" >>$F/asked`,
        // as a Redis with its default user off: the admin's login, or no answer
        `[ "$1 $2" = "--user stayline-admin" ] && [ "$REDISCLI_AUTH" = "${ADMIN_PASSWORD}" ] || exit 1; shift 2`,
        'host=127.0.0.1; while [ $# -gt 0 ]; do case "$1" in -h) host=$2; shift 2 ;; -p) shift 2 ;; *) break ;; esac; done',
        'case "$*" in',
        '  "sentinel get-master-addr-by-name stayline") [ -f $F/sentinel-$host ] && printf "%s\\n6379\\n" "$(cat $F/sentinel-$host)" && exit 0; exit 1 ;;',
        '  role) [ -f $F/role-$host ] && cat $F/role-$host && exit 0; exit 1 ;;',
        'esac; exit 1',
      ].join('\n'),
    );
    tool('getent', `[ -f ${fake}/ip-$2 ] && echo "$(cat ${fake}/ip-$2)  $2" || exit 2`);
    tool('redis-server', `echo "$@" >${fake}/started`);
    tool('redis-sentinel', `echo "$@" >${fake}/started; cp "$1" ${fake}/sentinel.conf`);
    // the scripts poll every second: the stand-in ends the script at its first wait
    tool('sleep', `echo waited >${fake}/waited; exit 7`);
    process.env.STAYLINE_TEST_BIN = bin;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const answer = (file: string, text: string) => fs.writeFileSync(path.join(fake, file), text);
  const read = (file: string) =>
    fs.existsSync(path.join(fake, file)) ? fs.readFileSync(path.join(fake, file), 'utf8') : '';

  /** Runs a script as its pod would: the image's paths moved to the scratch directory. */
  function run(script: string, podName: string, authFiles = true) {
    const copy = path.join(dir, script);
    const auth = path.join(dir, 'auth');
    fs.mkdirSync(auth, { recursive: true });
    if (authFiles)
      for (const [name, text] of Object.entries(AUTH_FILES))
        fs.writeFileSync(path.join(auth, name), text, { mode: 0o600 });
    fs.copyFileSync(path.join(REDIS_DIR, 'lib.sh'), path.join(dir, 'lib.sh'));
    fs.writeFileSync(
      copy,
      fs
        .readFileSync(path.join(REDIS_DIR, script), 'utf8')
        .replace('/etc/stayline/sentinel.conf.template', TEMPLATE)
        .replace('/etc/stayline/auth/', `${auth}/`)
        .replace('/data/sentinel.conf', path.join(dir, 'sentinel.conf')),
    );
    const res = spawnSync('sh', [copy], {
      encoding: 'utf8',
      env: {
        PATH: `${process.env.STAYLINE_TEST_BIN}:${process.env.PATH}`,
        POD_NAME: podName,
        POD_IP,
        REDIS_PEERS: 'redis-0.redis,redis-1.redis',
        REDIS_SENTINELS:
          'sentinel-0.sentinel:26379,sentinel-1.sentinel:26379,sentinel-2.sentinel:26379',
        REDIS_MASTER_NAME: 'stayline',
        REDISCLI_AUTH: ADMIN_PASSWORD,
      },
    });
    return { ...res, started: read('started').trim(), waited: read('waited') !== '' };
  }

  /** The arguments docker-compose.yml gives its Redis nodes, but the announced address. */
  const composeArgs = () => {
    const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const block = /^ {2}redis-1:\n([\s\S]*?)\n {2}\S/m.exec(compose)?.[1] ?? '';
    return [...block.matchAll(/^ {6}- (.*)$/gm)]
      .map((m) => m[1].replace(/^'(.*)'$/, '$1'))
      .filter((a) => a !== 'redis-server')
      .slice(0, -1);
  };

  it('starts redis-0 as the first primary when no Sentinel knows one and no peer is one, with the compose file’s arguments', () => {
    const r = run('redis-start.sh', 'redis-0');
    expect(r.status).toBe(0);
    const args = r.started.split(' ');
    expect(args.slice(0, -1).map((a) => (a === '' ? "''" : a))).toEqual(
      composeArgs().map((a) =>
        a === '' ? "''" : a.replace('/etc/stayline/auth/', `${path.join(dir, 'auth')}/`),
      ),
    );
    expect(args[0]).toBe(path.join(dir, 'auth', 'redis.conf'));
    expect(args.at(-1)).toBe(POD_IP);
    expect(r.started).not.toContain('--replicaof');
  });

  it('starts another node as the replica of the peer that is the primary, by address', () => {
    answer('ip-redis-0.redis', '10.244.1.21');
    answer('role-10.244.1.21', 'master\n0\n');
    const r = run('redis-start.sh', 'redis-1');
    expect(r.started).toMatch(
      /--replica-announce-ip 10\.244\.2\.31 --replicaof 10\.244\.1\.21 6379$/,
    );
  });

  it('makes a node wait, not start, while the first primary is not up', () => {
    const r = run('redis-start.sh', 'redis-1');
    expect({ started: r.started, waited: r.waited }).toEqual({ started: '', waited: true });
    expect(r.stderr).toMatch(/waiting for redis-0/);
  });

  it('replicates the primary the Sentinels name once it answers as one', () => {
    answer('sentinel-sentinel-1.sentinel', '10.244.3.22');
    answer('role-10.244.3.22', 'master\n');
    const r = run('redis-start.sh', 'redis-0');
    expect(r.started).toMatch(/--replicaof 10\.244\.3\.22 6379$/);
  });

  it('never brings a restarted primary back empty: it waits while the Sentinels still name it', () => {
    answer('sentinel-sentinel-0.sentinel', POD_IP);
    answer(`role-${POD_IP}`, 'master\n');
    const r = run('redis-start.sh', 'redis-0');
    expect({ started: r.started, waited: r.waited }).toEqual({ started: '', waited: true });
    expect(r.stderr).toMatch(/restarted empty: waiting for a failover/);
  });

  it('waits while the primary the Sentinels name does not answer as one', () => {
    answer('sentinel-sentinel-0.sentinel', '10.244.3.22');
    const r = run('redis-start.sh', 'redis-1');
    expect({ started: r.started, waited: r.waited }).toEqual({ started: '', waited: true });
  });

  it('writes a Sentinel’s config from the image’s template: its address, the primary another Sentinel names, a stable id', () => {
    answer('sentinel-sentinel-2.sentinel', '10.244.3.22');
    const r = run('sentinel-start.sh', 'sentinel-0');
    expect(r.status).toBe(0);
    expect(r.started).toBe(path.join(dir, 'sentinel.conf'));
    const conf = read('sentinel.conf').split('\n');
    const myid = createHash('sha1').update('sentinel-0').digest('hex');
    expect(conf).toEqual(
      expect.arrayContaining([
        `sentinel announce-ip ${POD_IP}`,
        'sentinel monitor stayline 10.244.3.22 6379 2',
        'sentinel resolve-hostnames no',
        `sentinel myid ${myid}`,
      ]),
    );
    expect(conf.join('\n')).not.toMatch(/\{\{/);
    // its users and logins, as the redis-auth initContainer wrote them, at the end
    expect(conf.join('\n')).toContain(AUTH_FILES['sentinel-auth.conf'].trim());
    expect(fs.statSync(path.join(fake, 'sentinel.conf')).size).toBeGreaterThan(0);
    // its own Sentinel (not up yet) is never asked
    expect(read('asked')).not.toContain('sentinel-0.sentinel');
  });

  it('asks the Sentinels and the Redis pods as the admin, and starts nothing without the redis-auth files', () => {
    answer('sentinel-sentinel-2.sentinel', '10.244.3.22');
    answer('role-10.244.3.22', 'master\n');
    expect(run('redis-start.sh', 'redis-1').started).toMatch(/--replicaof 10\.244\.3\.22 6379$/);
    expect(read('asked').split('\n').filter(Boolean)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^--user stayline-admin -h /)]),
    );
    fs.rmSync(path.join(fake, 'started'));
    fs.rmSync(path.join(dir, 'auth'), { recursive: true });
    for (const script of ['redis-start.sh', 'sentinel-start.sh']) {
      const r = run(script, script.startsWith('redis') ? 'redis-0' : 'sentinel-0', false);
      expect({ script, status: r.status, started: r.started }).toEqual({
        script,
        status: 1,
        started: '',
      });
      expect(r.stderr).toMatch(/written by the redis-auth initContainer\) is missing/);
    }
  });

  it('has a Sentinel monitor the Redis pod that is the primary when no other Sentinel knows, and wait when none is', () => {
    answer('ip-redis-1.redis', '10.244.3.22');
    answer('role-10.244.3.22', 'master\n');
    expect(run('sentinel-start.sh', 'sentinel-1').started).not.toBe('');
    expect(read('sentinel.conf')).toContain('sentinel monitor stayline 10.244.3.22 6379 2');
    fs.rmSync(path.join(fake, 'started'));
    fs.rmSync(path.join(fake, 'role-10.244.3.22'));
    const r = run('sentinel-start.sh', 'sentinel-1');
    expect({ started: r.started, waited: r.waited }).toEqual({ started: '', waited: true });
  });
});

describe('delete-pod.cjs, the STONITH on Kubernetes', () => {
  // each case starts Node and a TLS client: seconds on a loaded two-core host
  jest.setTimeout(30_000);
  const SCRIPT = path.join(BASE_DIR, 'failover-agent/delete-pod.cjs');
  const run = promisify(execFile);
  let dir: string;
  let server: https.Server;
  let port: number;
  /** The stand-in API's pod: its uid now, and what a DELETE does. */
  let state: { uid?: string; afterDelete: 'gone' | 'replaced' | 'stays' | 'forbidden' };
  let calls: Array<{ method: string; url: string; auth?: string; body: string }>;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-stonith-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'ca.crt'),
      ],
      { stdio: 'ignore' },
    );
    fs.writeFileSync(path.join(dir, 'token'), 'sa-token\n');
    fs.writeFileSync(path.join(dir, 'namespace'), 'stayline\n');
    server = https.createServer(
      {
        key: fs.readFileSync(path.join(dir, 'key.pem')),
        cert: fs.readFileSync(path.join(dir, 'ca.crt')),
      },
      (req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          calls.push({
            method: req.method ?? '',
            url: req.url ?? '',
            auth: req.headers.authorization,
            body,
          });
          const send = (status: number, json: unknown) =>
            res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
          if (req.url !== '/api/v1/namespaces/stayline/pods/mariadb-0') return send(404, {});
          if (req.method === 'GET')
            return state.uid
              ? send(200, { metadata: { uid: state.uid } })
              : send(404, { reason: 'NotFound' });
          if (state.afterDelete === 'forbidden')
            return send(403, { message: 'pods "mariadb-0" is forbidden' });
          const before = state.uid;
          send(200, { metadata: { uid: before } });
          // the kubelet stops the containers a moment later
          setTimeout(() => {
            if (state.afterDelete === 'gone') state.uid = undefined;
            if (state.afterDelete === 'replaced') state.uid = 'uid-2';
          }, 300);
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    calls = [];
  });

  const stonith = (node: string, waitMs = 3000) =>
    run(process.execPath, [SCRIPT, '--wait-ms', String(waitMs), '--service-account-dir', dir], {
      env: {
        NODE_NAME: node,
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: String(port),
      },
    }).then(
      ({ stdout }) => ({ code: 0, out: stdout.trim() }),
      (err: { code: number; stderr: string }) => ({ code: err.code, out: err.stderr.trim() }),
    );

  it('deletes the pod with a short grace period and its uid as precondition, and succeeds once it is gone', async () => {
    state = { uid: 'uid-1', afterDelete: 'gone' };
    const r = await stonith('mariadb-0');
    expect(r).toEqual({ code: 0, out: expect.stringMatching(/deleted, its containers stopped/) });
    const del = calls.find((c) => c.method === 'DELETE');
    expect(JSON.parse(del?.body ?? '{}')).toEqual({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 1,
      preconditions: { uid: 'uid-1' },
    });
    expect(new Set(calls.map((c) => c.auth))).toEqual(new Set(['Bearer sa-token']));
  });

  it('succeeds when the StatefulSet has already replaced it (another uid), or when it was gone before', async () => {
    state = { uid: 'uid-1', afterDelete: 'replaced' };
    expect(await stonith('mariadb-0')).toEqual({
      code: 0,
      out: expect.stringMatching(/replaced by uid uid-2/),
    });
    state = { uid: undefined, afterDelete: 'gone' };
    calls = [];
    expect(await stonith('mariadb-0')).toEqual({ code: 0, out: 'pod mariadb-0 already gone' });
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);
  });

  it('fails, never forcing, when the node does not confirm the stop in time', async () => {
    state = { uid: 'uid-1', afterDelete: 'stays' };
    const started = Date.now();
    const r = await stonith('mariadb-0', 800);
    expect(r).toEqual({
      code: 1,
      out: expect.stringMatching(/did not confirm the stop \(not forced\)/),
    });
    // it gave up after its wait (800 ms) instead of waiting on: bounded, with room for a slow start
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(calls.filter((c) => c.method === 'DELETE')).toHaveLength(1);
    expect(calls.every((c) => !/gracePeriodSeconds":0/.test(c.body))).toBe(true);
  });

  it('fails with the API’s answer when the Role does not allow it, and refuses a name that is not a pod’s', async () => {
    state = { uid: 'uid-1', afterDelete: 'forbidden' };
    expect(await stonith('mariadb-0')).toEqual({
      code: 1,
      out: expect.stringMatching(/HTTP 403 pods "mariadb-0" is forbidden/),
    });
    expect(await stonith('../nodes/x')).toEqual({
      code: 1,
      out: expect.stringMatching(/not a pod name/),
    });
  });
});
