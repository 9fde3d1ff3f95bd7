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
 * - pause: `docker pause` (the cgroup freezer: every process stops, sockets stay open).
 * - kill and restart: `docker kill` (SIGKILL) and `docker start`.
 *
 * Latency with jitter (`tc netem`) is not offered: the kernel of the machines
 * this runs on has no `sch_netem` (CONFIG_NET_SCH_NETEM is not set).
 *
 * Every fault is recorded with its time; `healAll()` undoes them all, and
 * `guard()` installs exit hooks (normal exit, Ctrl-C, SIGTERM, an uncaught
 * error) that undo them synchronously, so no run leaves a cut stack behind.
 */
import { execFileSync } from 'node:child_process';
import { runCommand, type ComposeStack } from './compose-stack';

/** One fault as it was applied. */
export interface FaultRecord {
  kind: 'isolate' | 'drop-from' | 'pause' | 'kill' | 'heal' | 'resume' | 'start';
  target: string;
  /** The peers cut off (services), or `everything`. */
  peers?: string[] | 'everything';
  /** `performance.now()` when it took effect. */
  at: number;
}

const IN = 'STAYLINE-IN';
const OUT = 'STAYLINE-OUT';

/** The iptables command that runs inside a network namespace. */
function nsIptables(pid: number, args: string[]): string[] {
  return ['-t', String(pid), '-n', 'iptables', '-w', ...args];
}

export class Nemesis {
  /** Network namespaces (container pids) that carry our chains, by service. */
  private readonly cut = new Map<string, number>();
  /** Paused and killed containers, by service, with their container names. */
  private readonly paused = new Map<string, string>();
  private readonly killed = new Map<string, string>();
  readonly log: FaultRecord[] = [];
  private unguard?: () => void;

  constructor(private readonly stack: ComposeStack) {}

  /** Cuts `service` from `peers` (services), or from everything but loopback, in both directions. */
  async isolate(service: string, peers: string[] | 'everything'): Promise<void> {
    const pid = await this.chains(service);
    if (peers === 'everything') {
      await this.rule(pid, ['-A', IN, '!', '-i', 'lo', '-j', 'DROP']);
      await this.rule(pid, ['-A', OUT, '!', '-o', 'lo', '-j', 'DROP']);
    } else {
      for (const ip of await this.ips(peers)) {
        await this.rule(pid, ['-A', IN, '-s', ip, '-j', 'DROP']);
        await this.rule(pid, ['-A', OUT, '-d', ip, '-j', 'DROP']);
      }
    }
    this.record('isolate', service, peers);
  }

  /** One-way loss: what `peers` send to `service` is lost; what it sends them still arrives. */
  async dropFrom(service: string, peers: string[]): Promise<void> {
    const pid = await this.chains(service);
    for (const ip of await this.ips(peers))
      await this.rule(pid, ['-A', IN, '-s', ip, '-j', 'DROP']);
    this.record('drop-from', service, peers);
  }

  /** Undoes every cut of `service` (its chains flushed; they stay, empty, until {@link healAll}). */
  async heal(service: string): Promise<void> {
    const pid = this.cut.get(service);
    if (pid === undefined) return;
    await this.nsenter(nsIptables(pid, ['-F', IN])).catch(() => undefined);
    await this.nsenter(nsIptables(pid, ['-F', OUT])).catch(() => undefined);
    this.record('heal', service);
  }

  /** Freezes every process of the container (`docker pause`). */
  async pause(service: string): Promise<void> {
    const name = await this.name(service);
    await this.docker(['pause', name]);
    this.paused.set(service, name);
    this.record('pause', service);
  }

  async resume(service: string): Promise<void> {
    await this.docker(['unpause', await this.name(service)]);
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
    this.record('start', service);
  }

  /** Undoes everything: cuts healed (chains removed), paused containers resumed, killed ones started. */
  async healAll(): Promise<void> {
    for (const service of [...this.cut.keys()]) {
      await this.heal(service);
      await this.unhook(this.cut.get(service) as number);
      this.cut.delete(service);
    }
    for (const service of [...this.paused.keys()]) await this.resume(service);
    for (const service of [...this.killed.keys()]) await this.start(service);
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
  active(): { cut: string[]; paused: string[]; killed: string[] } {
    return {
      cut: [...this.cut.keys()],
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
    for (const name of this.paused.values()) run('docker', ['unpause', name]);
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

  private record(kind: FaultRecord['kind'], target: string, peers?: FaultRecord['peers']): void {
    this.log.push({ kind, target, peers, at: performance.now() });
  }
}
