/**
 * A real DNS server (Debian's dnsmasq) in the foreground on a loopback port,
 * answering from a hosts file (A records) and `srv-host` lines with a given
 * TTL, for the DNS discovery tests and `npm run demo:discovery`. `setHosts`
 * rewrites the hosts file and sends SIGHUP, which makes dnsmasq reread it (the
 * SRV lines only change with a restart).
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface DnsmasqOptions {
  port: number;
  /** The zone it answers for (unknown names in it: NXDOMAIN, not REFUSED). */
  domain: string;
  /** `address name` lines. */
  hosts: string[];
  /** `_service._tcp.domain,target,port` (priority and weight added). */
  srv?: string[];
  ttlS: number;
}

export interface Dnsmasq {
  readonly server: string;
  setHosts(lines: string[]): void;
  stop(): Promise<void>;
}

export async function startDnsmasq(o: DnsmasqOptions): Promise<Dnsmasq> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-dns-'));
  const hostsFile = path.join(dir, 'hosts');
  fs.writeFileSync(hostsFile, o.hosts.join('\n') + '\n');
  const conf = path.join(dir, 'dnsmasq.conf');
  fs.writeFileSync(
    conf,
    [
      `port=${o.port}`,
      'listen-address=127.0.0.1',
      'bind-interfaces',
      'no-resolv',
      'no-hosts',
      'no-daemon',
      'pid-file=',
      `user=${os.userInfo().username}`,
      `addn-hosts=${hostsFile}`,
      `local-ttl=${o.ttlS}`,
      `local=/${o.domain}/`,
      ...(o.srv ?? []).map((s) => `srv-host=${s},0,10`),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/dnsmasq', [`--conf-file=${conf}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dnsmasq did not start:\n${log}`)), 5_000);
    const check = setInterval(() => {
      if (/read .*hosts/.test(log)) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 10);
    child.once('exit', (code) => {
      clearInterval(check);
      clearTimeout(timer);
      reject(new Error(`dnsmasq exited (${code}):\n${log}`));
    });
  });
  return {
    server: `127.0.0.1:${o.port}`,
    setHosts(lines) {
      fs.writeFileSync(hostsFile, lines.join('\n') + '\n');
      child.kill('SIGHUP');
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
