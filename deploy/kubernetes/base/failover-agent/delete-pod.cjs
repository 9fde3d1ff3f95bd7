#!/usr/bin/env node
/**
 * STONITH on Kubernetes: the failover agent's STONITH_COMMAND (STONITH=command), run when
 * the old primary cannot be reached to be fenced. Deletes the node's pod through the API
 * with the agent's service account (a Role allows get and delete on the MariaDB pods by
 * name, nothing else) and exits 0 only once the kubelet has confirmed the container gone:
 * the pod object disappeared, or the StatefulSet already made a new one (another uid),
 * which starts read-only with --init-rpl-role=SLAVE.
 *
 * A short grace period, never a forced deletion: a forced deletion only removes the object
 * and leaves a process on an unreachable node running. When the kubelet does not confirm
 * in time, this exits 1 and the agent relies on the other fences (the topology's epoch,
 * read-only start, semi-sync without fall-back). docs/kubernetes.md, "Fencing".
 *
 *   NODE_NAME=mariadb-0 node delete-pod.cjs [--wait-ms 8000] [--service-account-dir DIR]
 */
'use strict';
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const POD_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function options(argv) {
  const o = { waitMs: 8000, saDir: '/var/run/secrets/kubernetes.io/serviceaccount' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--wait-ms') o.waitMs = Number(argv[++i]);
    else if (argv[i] === '--service-account-dir') o.saDir = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(o.waitMs) || o.waitMs <= 0)
    throw new Error('--wait-ms: a positive integer');
  return o;
}

/** One API call; resolves with the status and the parsed body. */
function call(api, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: api.host,
        port: api.port,
        method,
        path: urlPath,
        ca: api.ca,
        timeout: 2000,
        headers: {
          authorization: `Bearer ${api.token}`,
          accept: 'application/json',
          // a DELETE with a body needs its length: Node sends no chunked body for DELETE
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          let parsed = {};
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { message: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: no answer in 2 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const o = options(process.argv.slice(2));
  const pod = process.env.NODE_NAME ?? '';
  if (!POD_NAME.test(pod)) throw new Error(`NODE_NAME "${pod}" is not a pod name`);
  const host = process.env.KUBERNETES_SERVICE_HOST;
  if (!host) throw new Error('KUBERNETES_SERVICE_HOST is not set: not running in a pod');
  const read = (file) => fs.readFileSync(path.join(o.saDir, file), 'utf8').trim();
  const api = {
    host,
    port: Number(process.env.KUBERNETES_SERVICE_PORT ?? 443),
    ca: fs.readFileSync(path.join(o.saDir, 'ca.crt')),
    token: read('token'),
  };
  const podPath = `/api/v1/namespaces/${encodeURIComponent(read('namespace'))}/pods/${pod}`;
  const failed = (what, r) =>
    new Error(`${what} ${pod}: HTTP ${r.status} ${r.body.message ?? r.body.reason ?? ''}`.trim());

  const before = await call(api, 'GET', podPath);
  if (before.status === 404) return `pod ${pod} already gone`;
  if (before.status !== 200) throw failed('reading', before);
  const uid = before.body.metadata.uid;

  const deleted = await call(api, 'DELETE', podPath, {
    apiVersion: 'v1',
    kind: 'DeleteOptions',
    gracePeriodSeconds: 1,
    preconditions: { uid },
  });
  if (deleted.status === 404) return `pod ${pod} gone`;
  // the uid precondition failed: the pod was replaced since it was read
  if (deleted.status === 409) return `pod ${pod} already replaced`;
  if (deleted.status !== 200 && deleted.status !== 202) throw failed('deleting', deleted);

  const deadline = Date.now() + o.waitMs;
  for (;;) {
    const now = await call(api, 'GET', podPath).catch(() => undefined);
    if (now?.status === 404) return `pod ${pod} (uid ${uid}) deleted, its containers stopped`;
    if (now?.status === 200 && now.body.metadata.uid !== uid)
      return `pod ${pod} (uid ${uid}) deleted; replaced by uid ${now.body.metadata.uid}`;
    if (Date.now() >= deadline)
      throw new Error(
        `pod ${pod} (uid ${uid}) still terminating after ${o.waitMs} ms: its node did not confirm the stop (not forced)`,
      );
    await sleep(250);
  }
}

main().then(
  (detail) => console.log(detail),
  (err) => {
    console.error(`delete-pod: ${err.message}`);
    process.exit(1);
  },
);
