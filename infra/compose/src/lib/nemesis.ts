/**
 * The nemesis: faults between the compose stack's containers, each container
 * being a host with its own network namespace. Driven from the host as root,
 * so the images need no extra capability:
 *
 * - partitions and one-way loss: `iptables` rules run inside the container's
 *   network namespace (`nsenter -t <pid> -n`), in two chains of their own
 *   (`STAYLINE-IN`, `STAYLINE-OUT`) hooked first into INPUT and OUTPUT. Packets
 *   are dropped silently, as on a real cut link: a peer sees a timeout, not a
 *   refusal. Healing flushes those chains; the rules the engine put there
 *   (Docker's embedded DNS on 127.0.0.11) are never touched, and loopback is
 *   never cut. `docker network disconnect` was not chosen: it removes the
 *   interface (peers get "no route" at once, the container its own errors),
 *   and it cannot cut one direction or one set of peers.
 * - latency with jitter ({@link Nemesis.delay}): the kernel of the machines
 *   this runs on has no `sch_netem` (CONFIG_NET_SCH_NETEM is not set), so no
 *   `tc netem`. Instead the target's TCP traffic is sent through delaying
 *   relays ({@link DelayRelay}, lib/latency.ts) that this process runs on the
 *   host, on the project network's gateway address: `DNAT` rules in a chain of
 *   ours in the nat table (`STAYLINE-DELAY`, hooked first into OUTPUT) send
 *   (a) every other container's connections to the target's listening ports
 *   and (b) the target's connections to the other containers' listening ports
 *   to a relay, which holds what the target sends by `delayMs ± jitterMs`, as
 *   netem on its egress would: a round trip through the target gains one delay.
 *   NAT only applies to new connections, so the established ones (pools,
 *   replication, Sentinel links) are cut with `ss -K` (the kernel has
 *   CONFIG_INET_DIAG_DESTROY) and reconnect through the relays. Healing
 *   removes the rules, then closes the relays (which resets the relayed
 *   connections: the clients reconnect directly).
 * - pause: SIGSTOP to every process in the container's PID namespace, SIGCONT to
 *   resume (every process stops, sockets stay open, the kernel still completes
 *   TCP handshakes). Not `docker pause`: with the cgroup v1 freezer of the
 *   engine these machines run (Debian's docker.io 20.10), a pause that lands
 *   while a healthcheck's `docker exec` is starting wedged the engine: `unpause`,
 *   `inspect` and `ps` of that container hung for twenty minutes and the
 *   container stayed frozen. A healthcheck started during the pause runs (it is
 *   a new process) and fails, as it would against a frozen host.
 * - kill and restart: `docker kill` (SIGKILL) and `docker start`.
 *
 * Every fault is recorded with its time; `healAll()` undoes them all, and
 * `guard()` installs exit hooks (normal exit, Ctrl-C, SIGTERM, an uncaught
 * error) that undo them synchronously, so no run leaves a cut stack behind.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { runCommand, type ComposeStack } from './compose-stack';
import { seeded } from './faults';
import { DelayRelay } from './latency';

/** One fault as it was applied. */
export interface FaultRecord {
  kind: 'isolate' | 'drop-from' | 'delay' | 'pause' | 'kill' | 'heal' | 'resume' | 'start';
  target: string;
  /** The peers cut off (services), or `everything`. */
  peers?: string[] | 'everything';
  /** `performance.now()` when it took effect. */
  at: number;
  /** What it did beyond the above, in words (a delay: its figures, relays and cut connections). */
  detail?: string;
}

export interface DelayOptions {
  /** The mean delay added to what the target sends (ms). */
  delayMs: number;
  /** Each chunk's delay is uniform in [delayMs - jitterMs, delayMs + jitterMs]. */
  jitterMs: number;
  /**
   * The target's own TCP ports the other containers reach it on. Default:
   * every port it listens on (found with `ss -ltn` in its namespace), loopback aside.
   */
  ports?: number[];
  /**
   * Also delay what the target sends on the connections it opens to the other
   * containers' listening ports (MariaDB, Redis, Sentinel, etcd...). Default true.
   */
  outbound?: boolean;
  /** Seed of the jitter draws (a run can be replayed); default Math.random. */
  seed?: number;
}

/** One target's delay: its relays, the DNAT rules that lead to them, the namespaces they are in. */
interface Delay {
  relays: DelayRelay[];
  /** Rules appended to {@link DELAY}, by namespace (pid), to delete one by one on heal. */
  rules: Array<{ pid: number; spec: string[] }>;
}

const IN = 'STAYLINE-IN';
const OUT = 'STAYLINE-OUT';
/** The nat table chain (hooked first into OUTPUT) that holds the DNAT rules of {@link Nemesis.delay}. */
const DELAY = 'STAYLINE-DELAY';

/** The iptables command that runs inside a network namespace. */
function nsIptables(pid: number, args: string[]): string[] {
  return ['-t', String(pid), '-n', 'iptables', '-w', ...args];
}

export class Nemesis {
  /** Network namespaces (container pids) that carry our chains, by service. */
  private readonly cut = new Map<string, number>();
  /** Network namespaces (container pids) that carry our nat chain, by service. */
  private readonly natted = new Map<string, number>();
  /** Delayed targets, by service. */
  private readonly delays = new Map<string, Delay>();
  /** Paused and killed containers, by service, with their container names. */
  /** Paused service -> the host pid of its init process (its PID namespace). */
  private readonly paused = new Map<string, number>();
  private readonly killed = new Map<string, string>();
  readonly log: FaultRecord[] = [];
  private unguard?: () => void;

  constructor(private readonly stack: ComposeStack) {}

  /**
   * Cuts `service` from `peers` (services), or from everything but loopback, in
   * both directions. Every rule goes in at once (one `iptables-restore`), so the
   * cut has one instant: resolves with it (`performance.now()`).
   */
  async isolate(service: string, peers: string[] | 'everything'): Promise<number> {
    const pid = await this.chains(service);
    const rules =
      peers === 'everything'
        ? [
            ['-A', IN, '!', '-i', 'lo', '-j', 'DROP'],
            ['-A', OUT, '!', '-o', 'lo', '-j', 'DROP'],
          ]
        : (await this.ips(peers)).flatMap((ip) => [
            ['-A', IN, '-s', ip, '-j', 'DROP'],
            ['-A', OUT, '-d', ip, '-j', 'DROP'],
          ]);
    const at = await this.rules(pid, rules);
    this.record('isolate', service, peers);
    return at;
  }

  /** One-way loss: what `peers` send to `service` is lost; what it sends them still arrives. Resolves with its instant. */
  async dropFrom(service: string, peers: string[]): Promise<number> {
    const pid = await this.chains(service);
    const at = await this.rules(
      pid,
      (await this.ips(peers)).map((ip) => ['-A', IN, '-s', ip, '-j', 'DROP']),
    );
    this.record('drop-from', service, peers);
    return at;
  }

  /**
   * Latency with jitter on every TCP connection of `service` to and from the
   * other containers of the project (see the top of this file): what it sends
   * is held `delayMs ± jitterMs`, so a request/response through it takes one
   * delay more. Established connections are cut (they reconnect through the
   * relays). A second call replaces the first. {@link heal} undoes it.
   *
   * Not delayed: traffic from the host (published ports, the test driver),
   * UDP, loopback, and the containers started (or restarted) after the call
   * (their namespace carries no rule of ours).
   *
   * Mind that the relays run in this process: whatever blocks its event loop
   * (execFileSync, a busy loop) holds the delayed traffic as long. Relayed
   * connections reach their destination from the gateway address, so an
   * {@link isolate} or {@link dropFrom} rule that names a peer's address does
   * not match them: do not combine a delay and a cut on the same pair. Two
   * delayed containers talking to each other get one delay, not two.
   */
  async delay(service: string, o: DelayOptions): Promise<void> {
    if (this.delays.has(service)) await this.undelay(service);
    const all = (await this.stack.containers()).filter((c) => c.state === 'running' && c.ip);
    const target = all.find((c) => c.service === service);
    if (!target) throw new Error(`${service} is not running: nothing to delay`);
    const peers = all.filter((c) => c !== target);
    const facts = await this.netFacts(all.map((c) => c.name));
    const gateway = facts.get(target.name)?.gateway;
    if (!gateway) throw new Error(`no gateway address for ${target.name}`);
    const pidOf = (name: string) => facts.get(name)?.pid as number;
    const random = o.seed === undefined ? Math.random : seeded(o.seed);
    const d: Delay = { relays: [], rules: [] };
    this.delays.set(service, d);
    const relay = async (host: string, port: number, delayed: 'upstream' | 'downstream') => {
      const r = await DelayRelay.start({
        listenHost: gateway,
        targetHost: host,
        targetPort: port,
        delayMs: o.delayMs,
        jitterMs: o.jitterMs,
        delayed,
        random,
      });
      d.relays.push(r);
      return `${gateway}:${r.address.port}`;
    };
    const dnat = async (svc: string, pid: number, ip: string, port: number, to: string) => {
      await this.natChain(svc, pid);
      const spec = ['-p', 'tcp', '-d', ip, '--dport', String(port), '-j', 'DNAT'];
      spec.push('--to-destination', to);
      await this.rule(pid, ['-t', 'nat', '-A', DELAY, ...spec]);
      d.rules.push({ pid, spec });
    };
    try {
      // the namespaces are worked on side by side (one after the other, this
      // takes seconds on a stack of twenty containers), each one in order
      const targetPid = pidOf(target.name);
      // (a) the others -> the target's ports: hold what the target answers
      const ports = o.ports ?? (await this.listening(targetPid));
      const inbound: Array<{ port: number; to: string }> = [];
      for (const port of ports)
        inbound.push({ port, to: await relay(target.ip, port, 'downstream') });
      await Promise.all(
        peers.map(async (p) => {
          for (const { port, to } of inbound)
            await dnat(p.service, pidOf(p.name), target.ip, port, to);
        }),
      );
      // (b) the target -> the others' ports: hold what the target asks
      const outbound: Array<{ ip: string; port: number }> = [];
      if (o.outbound ?? true) {
        const listening = await Promise.all(peers.map((p) => this.listening(pidOf(p.name))));
        for (const [i, p] of peers.entries())
          for (const port of listening[i]) {
            const to = await relay(p.ip, port, 'upstream');
            await dnat(service, targetPid, p.ip, port, to);
            outbound.push({ ip: p.ip, port });
          }
      }
      await this.checkRelayPath(gateway, peers[0] ?? target, pidOf, target.ip);
      // (c) the established connections are not NATed: cut them, they reconnect through us
      const cuts = await Promise.all([
        ...peers.map((p) =>
          this.destroySockets(
            pidOf(p.name),
            ports.map((port) => ({ ip: target.ip, port })),
          ),
        ),
        this.destroySockets(targetPid, outbound),
      ]);
      const cut = cuts.reduce((x, y) => x + y, 0);
      this.record(
        'delay',
        service,
        undefined,
        `${o.delayMs} ms ± ${o.jitterMs} ms; its ports ${ports.join(', ') || 'none'}; ` +
          `${outbound.length} peer ports; ${d.relays.length} relays on ${gateway}; ` +
          `${cut} established connections cut`,
      );
    } catch (err) {
      await this.undelay(service);
      throw err;
    }
  }

  /** Undoes every cut and the delay of `service` (its chains flushed; they stay, empty, until {@link healAll}). */
  async heal(service: string): Promise<void> {
    const pid = this.cut.get(service);
    const delayed = this.delays.has(service);
    if (pid === undefined && !delayed) return;
    if (pid !== undefined) {
      await this.nsenter(nsIptables(pid, ['-F', IN])).catch(() => undefined);
      await this.nsenter(nsIptables(pid, ['-F', OUT])).catch(() => undefined);
    }
    if (delayed) await this.undelay(service);
    this.record('heal', service);
  }

  /** Stops every process of the container (SIGSTOP to its PID namespace). */
  async pause(service: string): Promise<void> {
    const c = await this.stack.container(service);
    if (c.state !== 'running') throw new Error(`${service} is ${c.state}: nothing to pause`);
    const pid = Number((await this.docker(['inspect', '-f', '{{.State.Pid}}', c.name])).trim());
    if (!pid) throw new Error(`no pid for ${c.name}`);
    this.paused.set(service, pid);
    signalNamespace(pid, 'SIGSTOP');
    this.record('pause', service);
  }

  async resume(service: string): Promise<void> {
    const pid = this.paused.get(service);
    if (pid !== undefined) signalNamespace(pid, 'SIGCONT');
    this.paused.delete(service);
    this.record('resume', service);
  }

  /** SIGKILL (`docker kill`); {@link start} brings it back. */
  async kill(service: string): Promise<void> {
    const name = await this.name(service);
    await this.stack.kill(service);
    this.killed.set(service, name);
    this.record('kill', service);
  }

  async start(service: string): Promise<void> {
    await this.stack.start(service);
    this.killed.delete(service);
    this.cut.delete(service); // a new namespace: no rule of ours survived the restart
    this.natted.delete(service);
    this.record('start', service);
  }

  /**
   * Undoes everything: cuts and delays healed (chains removed, relays closed), paused
   * containers resumed, killed ones started. Every undo is tried even when one fails
   * (a slow engine must not leave the rest in place); the failures are thrown together.
   */
  async healAll(): Promise<void> {
    const failures: string[] = [];
    const attempt = async (what: string, undo: () => Promise<unknown>) => {
      await undo().catch((err: Error) => failures.push(`${what}: ${err.message}`));
    };
    for (const service of [...this.paused.keys()])
      await attempt(`resume ${service}`, () => this.resume(service));
    for (const service of [...this.delays.keys()])
      if (!this.cut.has(service)) await attempt(`heal ${service}`, () => this.heal(service)); // else healed just below
    for (const service of [...this.cut.keys()]) {
      await attempt(`heal ${service}`, async () => {
        await this.heal(service);
        await this.unhook(this.cut.get(service) as number);
        this.cut.delete(service);
      });
    }
    for (const [service, pid] of [...this.natted]) {
      await this.nsenter(nsIptables(pid, ['-t', 'nat', '-F', DELAY])).catch(() => undefined);
      await this.nsenter(nsIptables(pid, ['-t', 'nat', '-D', 'OUTPUT', '-j', DELAY])).catch(
        () => undefined,
      );
      await this.nsenter(nsIptables(pid, ['-t', 'nat', '-X', DELAY])).catch(() => undefined);
      this.natted.delete(service);
    }
    for (const service of [...this.killed.keys()])
      await attempt(`start ${service}`, () => this.start(service));
    if (failures.length) throw new Error(`not healed: ${failures.join('; ')}`);
  }

  /**
   * Undoes every fault synchronously when the process ends, however it ends
   * (exit, Ctrl-C, SIGTERM, an uncaught error). Returns the function that
   * removes the hooks (call it after a clean {@link healAll}).
   */
  guard(): () => void {
    const undo = () => this.healAllSync();
    const onSignal = (signal: NodeJS.Signals) => {
      undo();
      process.kill(process.pid, signal);
    };
    const onError = (err: unknown) => {
      undo();
      throw err;
    };
    process.once('exit', undo);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('uncaughtException', onError);
    this.unguard = () => {
      process.off('exit', undo);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('uncaughtException', onError);
    };
    return this.unguard;
  }

  /** What is in effect now (for a summary or a failed check's message). */
  active(): { cut: string[]; delayed: string[]; paused: string[]; killed: string[] } {
    return {
      cut: [...this.cut.keys()],
      delayed: [...this.delays.keys()],
      paused: [...this.paused.keys()],
      killed: [...this.killed.keys()],
    };
  }

  private healAllSync(): void {
    const run = (cmd: string, args: string[]) => {
      try {
        execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
      } catch {
        // best effort: a container that is gone has no rule left
      }
    };
    for (const pid of this.cut.values()) {
      for (const [chain, hook] of [
        [IN, 'INPUT'],
        [OUT, 'OUTPUT'],
      ]) {
        run('nsenter', nsIptables(pid, ['-F', chain]));
        run('nsenter', nsIptables(pid, ['-D', hook, '-j', chain]));
        run('nsenter', nsIptables(pid, ['-X', chain]));
      }
    }
    this.cut.clear();
    // the rules first (new connections go direct again), then the relays (the relayed ones reset)
    for (const pid of this.natted.values()) {
      run('nsenter', nsIptables(pid, ['-t', 'nat', '-F', DELAY]));
      run('nsenter', nsIptables(pid, ['-t', 'nat', '-D', 'OUTPUT', '-j', DELAY]));
      run('nsenter', nsIptables(pid, ['-t', 'nat', '-X', DELAY]));
    }
    this.natted.clear();
    for (const d of this.delays.values()) for (const r of d.relays) void r.close();
    this.delays.clear();
    for (const pid of this.paused.values()) signalNamespace(pid, 'SIGCONT');
    this.paused.clear();
    for (const name of this.killed.values()) run('docker', ['start', name]);
    this.killed.clear();
  }

  /** Our two chains in the container's namespace, hooked first into INPUT and OUTPUT; its pid. */
  private async chains(service: string): Promise<number> {
    const known = this.cut.get(service);
    if (known !== undefined) return known;
    const c = await this.stack.container(service);
    if (c.state !== 'running') throw new Error(`${service} is ${c.state}: nothing to cut`);
    const inspect = await this.docker(['inspect', '-f', '{{.State.Pid}}', c.name]);
    const pid = Number(inspect.trim());
    if (!pid) throw new Error(`no pid for ${c.name}`);
    for (const [chain, hook] of [
      [IN, 'INPUT'],
      [OUT, 'OUTPUT'],
    ]) {
      await this.nsenter(nsIptables(pid, ['-N', chain])).catch(() => undefined); // exists: fine
      await this.nsenter(nsIptables(pid, ['-F', chain]));
      const hooked = await this.nsenter(nsIptables(pid, ['-C', hook, '-j', chain])).then(
        () => true,
        () => false,
      );
      if (!hooked) await this.nsenter(nsIptables(pid, ['-I', hook, '1', '-j', chain]));
    }
    this.cut.set(service, pid);
    return pid;
  }

  /** Our nat chain in the container's namespace, hooked first into OUTPUT (kept across delays until {@link healAll}). */
  private async natChain(service: string, pid: number): Promise<void> {
    if (this.natted.get(service) === pid) return;
    const nat = (args: string[]) => this.nsenter(nsIptables(pid, ['-t', 'nat', ...args]));
    await nat(['-N', DELAY]).catch(() => undefined); // exists: fine
    await nat(['-F', DELAY]);
    const hooked = await nat(['-C', 'OUTPUT', '-j', DELAY]).then(
      () => true,
      () => false,
    );
    if (!hooked) await nat(['-I', 'OUTPUT', '1', '-j', DELAY]);
    this.natted.set(service, pid);
  }

  /** Removes a delay: its DNAT rules first (new connections go direct), then its relays (the relayed connections reset). */
  private async undelay(service: string): Promise<void> {
    const d = this.delays.get(service);
    if (!d) return;
    this.delays.delete(service);
    for (const { pid, spec } of d.rules)
      await this.nsenter(nsIptables(pid, ['-t', 'nat', '-D', DELAY, ...spec])).catch(
        () => undefined,
      );
    await Promise.all(d.relays.map((r) => r.close()));
  }

  /** The TCP ports a namespace listens on, loopback-only listeners aside (Docker's DNS among them). */
  private async listening(pid: number): Promise<number[]> {
    const out = await this.nsenter(['-t', String(pid), '-n', 'ss', '-ltnH']);
    return parseListening(out);
  }

  /**
   * Destroys the TCP sockets of a namespace connected to any of `to` (`ss -K`,
   * which needs CONFIG_INET_DIAG_DESTROY): the kernel resets them, both ends
   * see the connection die and reconnect. Resolves with how many there were.
   */
  private async destroySockets(
    pid: number,
    to: Array<{ ip: string; port: number }>,
  ): Promise<number> {
    let n = 0;
    // a few destinations per call: the filter is one argument list
    for (let i = 0; i < to.length; i += 32) {
      const filter = ['('];
      for (const { ip, port } of to.slice(i, i + 32))
        filter.push(...(filter.length > 1 ? ['or'] : []), 'dst', `${ip}:${port}`);
      filter.push(')');
      const ss = (args: string[]) =>
        this.nsenter(['-t', String(pid), '-n', 'ss', ...args, ...filter]).then(connections);
      // TIME-WAIT ones are no sockets any more (nothing to destroy, nothing to fear)
      const before = await ss(['-tnHe', 'exclude', 'time-wait']);
      if (!before.length) continue;
      await ss(['-K', '-tnH']);
      // a kernel without CONFIG_INET_DIAG_DESTROY answers -K with nothing and kills nothing
      const after = new Set(await ss(['-tnHe', 'exclude', 'time-wait']));
      const left = before.filter((c) => after.has(c));
      if (left.length)
        throw new Error(
          `ss -K left ${left.length} connection(s) open in namespace ${pid} (${left[0]}...): ` +
            'does the kernel have CONFIG_INET_DIAG_DESTROY?',
        );
      n += before.length;
    }
    return n;
  }

  /**
   * Proves the path a DNATed connection takes: from a container's namespace,
   * through a rule of our chain, to a listener on the gateway address (the
   * host's own firewall could drop it). A throwaway listener and rule, so no
   * real service sees a stray connection.
   */
  private async checkRelayPath(
    gateway: string,
    from: { service: string; name: string },
    pidOf: (name: string) => number,
    someIp: string,
  ): Promise<void> {
    const pid = pidOf(from.name);
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: gateway, port: 0 }, () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    const spec = ['-p', 'tcp', '-d', someIp, '--dport', String(port), '-j', 'DNAT'];
    spec.push('--to-destination', `${gateway}:${port}`);
    try {
      await this.natChain(from.service, pid);
      await this.rule(pid, ['-t', 'nat', '-I', DELAY, '1', ...spec]);
      const probe =
        `const s=require('net').connect({host:'${someIp}',port:${port}});` +
        `s.on('connect',()=>process.exit(0));s.on('error',(e)=>{console.error(e.message);process.exit(1)});` +
        `setTimeout(()=>{console.error('timed out');process.exit(2)},5000)`;
      const r = await runCommand(
        'nsenter',
        ['-t', String(pid), '-n', process.execPath, '-e', probe],
        { timeoutMs: 15_000 },
      );
      if (r.code !== 0 || accepted === 0)
        throw new Error(
          `a DNATed connection from ${from.name} to ${gateway}:${port} did not arrive ` +
            `(the host's firewall?): ${r.stderr.trim() || `exit ${r.code}`}`,
        );
    } finally {
      await this.nsenter(nsIptables(pid, ['-t', 'nat', '-D', DELAY, ...spec])).catch(
        () => undefined,
      );
      server.close();
    }
  }

  /** Pid and gateway address of containers, by name. */
  private async netFacts(names: string[]): Promise<Map<string, { pid: number; gateway: string }>> {
    const out = await this.docker([
      'inspect',
      '-f',
      '{{.Name}} {{.State.Pid}} {{range .NetworkSettings.Networks}}{{.Gateway}} {{end}}',
      ...names,
    ]);
    const facts = new Map<string, { pid: number; gateway: string }>();
    for (const line of out.split('\n').filter(Boolean)) {
      const [name, pid, gateway] = line.trim().split(/\s+/);
      if (!Number(pid)) throw new Error(`no pid for ${name}`);
      facts.set(name.replace(/^\//, ''), { pid: Number(pid), gateway: gateway ?? '' });
    }
    return facts;
  }

  private async unhook(pid: number): Promise<void> {
    for (const [chain, hook] of [
      [IN, 'INPUT'],
      [OUT, 'OUTPUT'],
    ]) {
      await this.nsenter(nsIptables(pid, ['-D', hook, '-j', chain])).catch(() => undefined);
      await this.nsenter(nsIptables(pid, ['-X', chain])).catch(() => undefined);
    }
  }

  private async rule(pid: number, args: string[]): Promise<void> {
    await this.nsenter(nsIptables(pid, args));
  }

  /**
   * Appends filter rules to our chains in one transaction (`iptables-restore
   * --noflush`: nothing else in the namespace is touched, and no packet sees
   * half of them). Resolves with the instant they were in force.
   */
  private async rules(pid: number, rules: string[][]): Promise<number> {
    const text = ['*filter', ...rules.map((r) => r.join(' ')), 'COMMIT', ''].join('\n');
    const file = path.join(os.tmpdir(), `stayline-nemesis-${process.pid}-${pid}.rules`);
    fs.writeFileSync(file, text);
    try {
      await this.nsenter(['-t', String(pid), '-n', 'iptables-restore', '--noflush', file]);
      return performance.now();
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** The project network addresses of `services` (each must be running). */
  private async ips(services: string[]): Promise<string[]> {
    const all = await this.stack.containers();
    return services.map((s) => {
      const c = all.find((x) => x.service === s);
      if (!c?.ip) throw new Error(`${s} has no address (is it running?)`);
      return c.ip;
    });
  }

  private async name(service: string): Promise<string> {
    return (await this.stack.container(service)).name;
  }

  private async nsenter(args: string[]): Promise<string> {
    const r = await runCommand('nsenter', args, { timeoutMs: 15_000 });
    if (r.code !== 0) throw new Error(`nsenter ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private async docker(args: string[]): Promise<string> {
    const r = await this.stack.docker(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private record(
    kind: FaultRecord['kind'],
    target: string,
    peers?: FaultRecord['peers'],
    detail?: string,
  ): void {
    this.log.push({ kind, target, peers, at: performance.now(), ...(detail ? { detail } : {}) });
  }
}

/**
 * `local peer ino:N` of each socket `ss -tnHe` lists: the inode tells a
 * socket from a new one that happens to reuse the same ports.
 */
function connections(ssOutput: string): string[] {
  return ssOutput
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5)
    .map((f) => `${f[3]} ${f[4]} ${f.find((x) => x.startsWith('ino:')) ?? ''}`);
}

/**
 * The ports of `ss -ltnH` lines (`LISTEN 0 511 0.0.0.0:3306 0.0.0.0:*`), but
 * those bound to loopback only (`127.0.0.11:41235`, Docker's DNS; `[::1]:...`).
 */
export function parseListening(ssOutput: string): number[] {
  const ports = new Set<number>();
  for (const line of ssOutput.split('\n')) {
    const local = line.trim().split(/\s+/)[3];
    if (!local) continue;
    const at = local.lastIndexOf(':');
    const host = local.slice(0, at).replace(/%.*$/, '');
    const port = Number(local.slice(at + 1));
    if (!port || /^(127\.|\[::1\]|\[::ffff:127\.)/.test(host)) continue;
    ports.add(port);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * Sends `signal` to every process in the PID namespace of host pid `init`
 * (a container's processes, as the host sees them). Synchronous, so the exit
 * hooks can use it; a process that ends meanwhile is skipped.
 */
export function signalNamespace(init: number, signal: 'SIGSTOP' | 'SIGCONT'): number {
  const nsOf = (pid: string | number) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/pid`);
    } catch {
      return undefined;
    }
  };
  const ns = nsOf(init);
  if (!ns) return 0; // the container is gone: nothing of it is stopped
  let sent = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || nsOf(entry) !== ns) continue;
    try {
      process.kill(Number(entry), signal);
      sent += 1;
    } catch {
      // ended meanwhile
    }
  }
  return sent;
}
