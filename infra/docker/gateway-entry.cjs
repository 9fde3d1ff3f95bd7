#!/usr/bin/env node
/**
 * The gateway container's entry point: nginx plus the upstream sync, the pair
 * the native stack runs. nginx starts on the configuration `@stayline/gateway`
 * renders from the route table (no instance yet, so 502 until services
 * register); once it listens, the sync (infra/gateway-sync) keeps its upstreams
 * equal to the registry and reloads it. Both read the sync's environment
 * (GATEWAY_PREFIX, GATEWAY_HOST, GATEWAY_PORT, ...: gateway-sync/src/lib/sync-config.ts).
 *
 * The container ends when either process ends, so its restart policy covers
 * both. SIGTERM stops the sync first, then nginx gracefully (SIGQUIT: requests
 * in flight finish).
 */
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dist = path.resolve(__dirname, '../../dist');
const net = require('node:net');
const { writeNginxConfig } = require(path.join(dist, 'libs/gateway/src/index.js'));
const { syncConfig, syncLimits } = require(
  path.join(dist, 'infra/gateway-sync/src/lib/sync-config.js'),
);
const SYNC_MAIN = path.join(dist, 'infra/gateway-sync/src/main.js');

const log = (line) => console.error(`[gateway] ${line}`);
const children = new Map();
let stopping = false;

function start(name, command, args) {
  const child = spawn(command, args, { stdio: 'inherit' });
  children.set(name, child);
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (!stopping) {
      log(`${name} exited (${signal ?? `code ${code}`}); stopping the gateway`);
      process.exitCode = 1;
      stop();
    } else if (children.size === 0) process.exit();
  });
  return child;
}

function stop() {
  stopping = true;
  children.get('gateway-sync')?.kill('SIGTERM');
  children.get('nginx')?.kill('SIGQUIT');
  if (children.size === 0) process.exit();
}

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function main() {
  const c = syncConfig(); // fails fast on a bad environment, naming every variable
  const conf = writeNginxConfig({
    prefix: c.GATEWAY_PREFIX,
    host: c.GATEWAY_HOST,
    port: c.GATEWAY_PORT,
    limits: syncLimits(c), // the same the sync renders on every reload
  });
  const errorLog = path.join(c.GATEWAY_PREFIX, 'error.log');
  start('nginx', c.NGINX_BIN, ['-p', c.GATEWAY_PREFIX, '-c', conf, '-e', errorLog]);
  // the sync reloads a running nginx (found by its pid file): it starts once nginx listens
  const pidFile = path.join(c.GATEWAY_PREFIX, 'nginx.pid');
  const deadline = Date.now() + 10_000;
  while (!(fs.existsSync(pidFile) && (await listening(c.GATEWAY_PORT)))) {
    if (Date.now() > deadline) throw new Error('nginx did not listen within 10 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  if (stopping) return;
  start('gateway-sync', process.execPath, [SYNC_MAIN]);
  log(`nginx on ${c.GATEWAY_HOST}:${c.GATEWAY_PORT}, upstreams follow discovery`);
}

process.once('SIGTERM', () => stop());
process.once('SIGINT', () => stop());
main().catch((err) => {
  log(`failed to start: ${err.message}`);
  process.exitCode = 1;
  stop();
});
