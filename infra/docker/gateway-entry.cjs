#!/usr/bin/env node
/**
 * The gateway container's entry point: nginx plus the upstream sync, the pair
 * the native launcher runs. nginx starts on a configuration rendered by the
 * launcher's own code (`nginxSpec`: no instance yet, so 502 until services
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
const { nginxSpec } = require(path.join(dist, 'infra/launcher/src/lib/nginx.js'));
const { isPortOpen, waitFor } = require(path.join(dist, 'infra/launcher/src/lib/ports.js'));
const { syncConfig } = require(path.join(dist, 'infra/gateway-sync/src/lib/sync-config.js'));
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

async function main() {
  const c = syncConfig(); // fails fast on a bad environment, naming every variable
  const nginx = nginxSpec({ prefix: c.GATEWAY_PREFIX, host: c.GATEWAY_HOST, port: c.GATEWAY_PORT });
  start('nginx', nginx.command, nginx.args);
  // the sync reloads a running nginx (found by its pid file): it starts once nginx listens
  const pidFile = path.join(c.GATEWAY_PREFIX, 'nginx.pid');
  await waitFor(
    'nginx to listen',
    async () => fs.existsSync(pidFile) && (await isPortOpen(c.GATEWAY_PORT, '127.0.0.1')),
    { timeoutMs: 10_000 },
  );
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
