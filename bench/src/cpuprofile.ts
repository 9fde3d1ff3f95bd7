/**
 * Self time of a V8 CPU profile (`.cpuprofile`, from `node --cpu-prof` or the
 * inspector's Profiler), aggregated by function and by package, with shares of
 * the busy time (idle excluded):
 *   node scripts/run.cjs bench/src/cpuprofile.ts a.cpuprofile [b.cpuprofile ...] [--top=15]
 * Several files are summed (e.g. the instances of one service).
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@stayline/stack-kit';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Share {
  name: string;
  ms: number;
  /** Of the busy time (everything but `(idle)`). */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  byFunction: Share[];
  byPackage: Share[];
  /**
   * Self time counted to the package whose code called it: V8's and Node's own
   * frames (a socket write, a hash, a regular expression) go to the nearest
   * caller from npm or the repository. What a package costs, its natives included.
   */
  byCaller: Share[];
  /** Of the busy time, the share {@link byCaller} counts to `@opentelemetry/*`. */
  openTelemetry: number;
}

const isOwnCode = (f: CallFrame) => f.url !== '' && !f.url.startsWith('node:');

/** Where a frame's code comes from: an npm package, Node's own, V8's, or a project of the repo. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node (built-in)';
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const rel = path.relative(REPO_ROOT, file);
  if (!rel.startsWith('..')) return rel.split(path.sep).slice(0, 2).join('/');
  return file;
}

function functionKey(f: CallFrame): string {
  const where = f.url
    ? `${packageOf(f.url, f.functionName)} ${path.basename(f.url)}:${f.lineNumber + 1}`
    : '';
  return `${f.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

function ranked(totals: Map<string, number>, busyUs: number, top: number): Share[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 1000), share: us / busyUs }));
}

/** Self time per function and per package over one or more profiles. */
export function summarizeProfiles(profiles: CpuProfile[], top = 15): ProfileSummary {
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const byCaller = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  for (const p of profiles) {
    const nodes = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    const parents = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parents.set(c, n.id);
    const callers = new Map<number, string>();
    /** The package of the nearest frame from npm or the repository, from `id` up. */
    const callerOf = (id: number): string => {
      const known = callers.get(id);
      if (known !== undefined) return known;
      const f = nodes.get(id) as CallFrame;
      const parent = parents.get(id);
      const found = isOwnCode(f)
        ? packageOf(f.url, f.functionName)
        : parent === undefined || f.functionName.startsWith('(')
          ? packageOf(f.url, f.functionName)
          : callerOf(parent);
      callers.set(id, found);
      return found;
    };
    p.samples.forEach((id, i) => {
      const f = nodes.get(id);
      const us = p.timeDeltas[i] ?? 0;
      if (!f || us <= 0) return;
      if (f.functionName === '(idle)') {
        idleUs += us;
        return;
      }
      busyUs += us;
      const fk = functionKey(f);
      byFunction.set(fk, (byFunction.get(fk) ?? 0) + us);
      const pk = packageOf(f.url, f.functionName);
      byPackage.set(pk, (byPackage.get(pk) ?? 0) + us);
      const ck = callerOf(id);
      byCaller.set(ck, (byCaller.get(ck) ?? 0) + us);
    });
  }
  let openTelemetryUs = 0;
  for (const [k, us] of byCaller) if (k.startsWith('@opentelemetry/')) openTelemetryUs += us;
  return {
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    byFunction: ranked(byFunction, busyUs, top),
    byPackage: ranked(byPackage, busyUs, top),
    byCaller: ranked(byCaller, busyUs, top),
    openTelemetry: busyUs > 0 ? openTelemetryUs / busyUs : 0,
  };
}

/** The summary as text: two ranked tables. */
export function formatSummary(title: string, s: ProfileSummary): string {
  const rows = (list: Share[]) =>
    list.map(
      (x) =>
        `  ${(x.share * 100).toFixed(1).padStart(5)} %  ${String(x.ms).padStart(6)} ms  ${x.name}`,
    );
  return [
    `${title}: ${s.busyMs} ms busy, ${s.idleMs} ms idle; OpenTelemetry (natives it called included) ${(s.openTelemetry * 100).toFixed(1)} %`,
    ' self time by package:',
    ...rows(s.byPackage),
    ' self time by calling package (natives counted to their caller):',
    ...rows(s.byCaller),
    ' self time by function:',
    ...rows(s.byFunction),
  ].join('\n');
}

if (require.main === module || process.argv[1] === __filename) {
  const args = process.argv.slice(2);
  const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 15);
  const files = args.filter((a) => !a.startsWith('--'));
  if (!files.length) {
    console.error(
      'usage: node scripts/run.cjs bench/src/cpuprofile.ts <file.cpuprofile>... [--top=N]',
    );
    process.exit(2);
  }
  const profiles = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as CpuProfile);
  console.log(
    formatSummary(files.map((f) => path.basename(f)).join(' + '), summarizeProfiles(profiles, top)),
  );
}
