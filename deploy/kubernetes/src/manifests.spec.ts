/**
 * The Kubernetes manifests, checked without a cluster (docs/kubernetes.md, "What CI
 * checks"): each overlay rendered, every object valid against the Kubernetes API's schemas
 * (kubernetes-models: types and required fields, and through its TypeScript types no field
 * the API does not know); every image one docker-compose.yml builds and every entry point
 * one the image holds; every process's environment accepted by its app's own config
 * schema, its settings naming pods that exist and listen there; every Service selecting
 * pods on ports they declare; every probe on a route the app serves on the port it
 * listens on; the NetworkPolicies allowing exactly the connections the configurations
 * name, and nothing from outside but the gateway; budgets, spreading, autoscaling,
 * resources; no dev secret in `ha`; `ha` the compose file's topology; Prometheus on the
 * ConfigMap the native stack's generator renders, each of its targets a pod listening there.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import ts from 'typescript';
import type { ZodType } from 'zod';
import {
  credentialsFromEnv,
  PROMETHEUS_RULES,
  prometheusFiles,
  SENTINEL_MASTER_NAME,
  SERVICE_DATABASES,
  serviceDbVariable,
  type ServiceDatabase,
} from '@stayline/stack-kit';
import { GATEWAY_ROUTES, gatewayServices } from '@stayline/gateway';
import { KUBERNETES_DIR, OVERLAYS_DIR } from './lib/layout';
import { build, Resource } from './lib/kustomize';
import {
  ClusterModel,
  Container,
  containerPort,
  expand,
  INTERNET,
  POD_IP,
  Workload,
} from './lib/cluster-model';

jest.setTimeout(120_000);

const ROOT = path.resolve(KUBERNETES_DIR, '../..');
const OVERLAYS = ['dev', 'ha'] as const;
type Overlay = (typeof OVERLAYS)[number];
/** docker-compose.yml's one-shot jobs: run to completion before the processes that need them. */
const ONE_SHOT = ['db-init', 'redis-auth', 'etcd-auth', 'prometheus-config'];
const DOC = fs.readFileSync(path.join(ROOT, 'docs/kubernetes.md'), 'utf8');

const rendered = Object.fromEntries(
  OVERLAYS.map((o) => [o, new ClusterModel(build(path.join(OVERLAYS_DIR, o)))]),
) as Record<Overlay, ClusterModel>;

const compose = load(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, { image?: string; command?: string[]; profiles?: string[] }>;
};

const containersOf = (w: Workload): Container[] => [
  ...(w.pod.initContainers ?? []),
  ...w.pod.containers,
];
const eachWorkload = (fn: (overlay: Overlay, m: ClusterModel, w: Workload) => void) => {
  for (const overlay of OVERLAYS)
    for (const w of rendered[overlay].workloads) fn(overlay, rendered[overlay], w);
};

/** `node dist/apps/<app>/src/main.js` -> the app. */
const appOf = (c: Container) =>
  /^dist\/apps\/([\w-]+)\/src\/main\.js$/.exec(c.command?.[1] ?? '')?.[1];

/** An app's `*ConfigSchema` (or a function of the environment returning one), without the dev profile. */
async function configSchema(file: string, env: Record<string, string>): Promise<ZodType> {
  const mod = (await import(file)) as Record<string, unknown>;
  const found = Object.entries(mod).find(([name]) => name.endsWith('ConfigSchema'));
  if (!found) throw new Error(`${file} exports no *ConfigSchema`);
  return typeof found[1] === 'function'
    ? (found[1] as (e: Record<string, string>) => ZodType)(env)
    : (found[1] as ZodType);
}

/** The environment each main container runs with, parsed by its process's own schema. */
interface Parsed {
  overlay: Overlay;
  workload: Workload;
  container: Container;
  env: Record<string, string>;
  config: Record<string, unknown>;
}
const parsed: Parsed[] = [];

beforeAll(async () => {
  const saved = process.env.STAYLINE_PROFILE;
  delete process.env.STAYLINE_PROFILE; // every secret must come from the manifests
  try {
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      for (const w of m.workloads) {
        const c = w.pod.containers[0];
        const app = appOf(c);
        const file = app
          ? path.join(ROOT, 'apps', app, 'src', 'config.ts')
          : c.command?.join(' ') === 'node infra/docker/gateway-entry.cjs'
            ? path.join(ROOT, 'infra/gateway-sync/src/lib/sync-config.ts')
            : undefined;
        if (!file) continue;
        const env = m.environment(w, c);
        const result = (await configSchema(file, env)).safeParse(env);
        if (!result.success)
          throw new Error(`${overlay} ${w.name}: ${JSON.stringify(result.error.issues)}`);
        parsed.push({ overlay, workload: w, container: c, env, config: result.data as never });
      }
    }
  } finally {
    if (saved !== undefined) process.env.STAYLINE_PROFILE = saved;
  }
});

describe('the rendered manifests', () => {
  it('are valid against the Kubernetes API schemas (kubernetes-models), every field one the API knows', () => {
    const sources: string[] = [];
    const imports = new Map<string, string>();
    for (const overlay of OVERLAYS) {
      for (const [i, r] of rendered[overlay].resources.entries()) {
        const [group, version] = r.apiVersion.includes('/')
          ? r.apiVersion.split('/')
          : [undefined, r.apiVersion];
        const module = `kubernetes-models/${group ? `${group}/` : ''}${version}/${r.kind}`;
        const Model = (require(module) as Record<string, new (d: unknown) => { validate(): void }>)[
          r.kind
        ];
        expect({ overlay, object: `${r.kind}/${String(r.metadata.name)}`, model: !!Model }).toEqual(
          { overlay, object: `${r.kind}/${String(r.metadata.name)}`, model: true },
        );
        expect(() => new Model(r).validate()).not.toThrow();
        const type = `I${r.kind}_${imports.size}`;
        if (![...imports.values()].some((v) => v.startsWith(`${module}#`)))
          imports.set(type, `${module}#I${r.kind}`);
        const alias = [...imports].find(([, v]) => v === `${module}#I${r.kind}`)?.[0];
        sources.push(`export const ${overlay}_${i}: ${alias} = ${JSON.stringify(r)};`);
      }
    }
    // the models' TypeScript types name every field the API has: an unknown one is an error
    const header = [...imports]
      .map(([alias, v]) => {
        const [module, name] = v.split('#');
        return `import type { ${name} as ${alias} } from '${module}';`;
      })
      .join('\n');
    const file = path.join(KUBERNETES_DIR, 'src', '__rendered__.ts');
    const text = `${header}\n${sources.join('\n')}\n`;
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      target: ts.ScriptTarget.ES2022,
      types: [],
      ignoreDeprecations: '6.0',
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, ...rest) =>
      name === file
        ? ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true)
        : getSourceFile(name, ...rest);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (name) => name === file || fileExists(name);
    const program = ts.createProgram([file], options, host);
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]);
    expect(problems).toEqual([]);
    expect(sources.length).toBeGreaterThan(100);
  });

  it('run only images docker-compose.yml builds (stayline/*:dev), each one of them, pulled only when absent', () => {
    const raw = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
    const built = new Set([...raw.matchAll(/^\s*image:\s*['"]?([^\s'"]+)/gm)].map((x) => x[1]));
    expect([...built].sort()).toEqual([
      'stayline/app:dev',
      'stayline/etcd:dev',
      'stayline/gateway:dev',
      'stayline/mariadb:dev',
      'stayline/prometheus:dev',
      'stayline/redis:dev',
    ]);
    for (const overlay of OVERLAYS) {
      const used = new Set<string>();
      for (const w of rendered[overlay].workloads)
        for (const c of containersOf(w)) {
          used.add(c.image);
          expect({
            overlay,
            container: `${w.name}/${c.name}`,
            image: c.image,
            pull: c.imagePullPolicy,
          }).toEqual({
            overlay,
            container: `${w.name}/${c.name}`,
            image: expect.stringMatching(/^stayline\/[a-z]+:dev$/),
            pull: 'IfNotPresent',
          });
          expect(built.has(c.image)).toBe(true);
        }
      expect([...used].sort()).toEqual([...built].sort());
    }
  });

  it('start entry points the images hold: built app mains, the gateway’s entry, commands on the image’s PATH, scripts from mounted ConfigMaps', () => {
    const dockerfiles = [
      'Dockerfile',
      'infra/docker/mariadb/Dockerfile',
      'infra/docker/redis/Dockerfile',
      'infra/docker/etcd/Dockerfile',
      'infra/docker/prometheus/Dockerfile',
    ].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8'));
    const onPath = new Set(
      dockerfiles.flatMap((d) =>
        [...d.matchAll(/^COPY \S+ \/usr\/local\/bin\/([\w-]+)$/gm)].map((m) => m[1]),
      ),
    );
    expect([...onPath].sort()).toEqual([
      'stayline-etcd-health',
      'stayline-health',
      'stayline-mariadb',
      'stayline-sentinel',
    ]);
    eachWorkload((overlay, m, w) => {
      const mounted = (c: Container, file: string) => {
        const mount = (c.volumeMounts ?? []).find((v) => file.startsWith(`${v.mountPath}/`));
        const volume = w.pod.volumes?.find((v) => v.name === mount?.name);
        const cm = volume?.configMap && m.named('ConfigMap', volume.configMap.name);
        return Boolean(cm && (cm.data as Record<string, string>)[path.basename(file)]);
      };
      for (const c of containersOf(w)) {
        const [cmd, first] = c.command ?? [];
        const where = { overlay, container: `${w.name}/${c.name}` };
        if (cmd === 'node') {
          const source = first.startsWith('dist/')
            ? path.join(ROOT, first.slice('dist/'.length).replace(/\.js$/, '.ts'))
            : path.join(ROOT, first);
          expect({ ...where, source, exists: fs.existsSync(source) }).toEqual({
            ...where,
            source,
            exists: true,
          });
          if (!first.startsWith('dist/')) expect(dockerfiles[0]).toContain(`COPY ${first} `);
        } else if (cmd === 'sh' && first !== '-c') {
          expect({ ...where, script: first, mounted: mounted(c, first) }).toEqual({
            ...where,
            script: first,
            mounted: true,
          });
        } else if (cmd === 'sh') {
          const named = /^(?:exec |until )?([\w-]+)/.exec(c.command?.[2] ?? '')?.[1] as string;
          expect(['mkdir', 'mariadb', ...onPath]).toContain(named);
        } else expect(['etcd', 'prometheus']).toContain(cmd);
        const stonith = c.env?.find((e) => e.name === 'STONITH_COMMAND')?.value;
        if (stonith) {
          const [, script] = stonith.split(' ');
          expect({ ...where, script, mounted: mounted(c, script) }).toEqual({
            ...where,
            script,
            mounted: true,
          });
        }
      }
    });
  });

  it('give every process an environment its own config schema accepts (no dev profile), naming pods that exist and listen there', () => {
    const apps = new Set(parsed.map((p) => appOf(p.container) ?? 'gateway'));
    expect([...apps].sort()).toEqual([
      'auth',
      'dashboard',
      'failover-agent',
      'gateway',
      'payment',
      'recommendation',
      'reservation',
      'scrap',
    ]);
    for (const { overlay, workload: w, config: c, env } of parsed) {
      const m = rendered[overlay];
      const where = { overlay, workload: w.name };
      const nodes = (list: unknown) => list as Array<{ name?: string; host: string; port: number }>;
      // each node a setting lists is a pod that listens on that port (a StatefulSet pod by its
      // name, which it keeps when rescheduled), labelled with that pod's name
      const at = (list: unknown, workload: string) => {
        for (const n of nodes(list)) {
          const { workload: target, targetPort } = m.resolve(n.host, n.port);
          expect({ ...where, host: n.host, target: target.name, targetPort }).toEqual({
            ...where,
            host: n.host,
            target: workload,
            targetPort: n.port,
          });
          if (n.name && n.host.includes('.')) expect(n.name).toBe(n.host.split('.')[0]);
        }
        return nodes(list).length;
      };
      // every process listens on the pod's addresses
      expect(c.HOST ?? c.GATEWAY_HOST).toBe('0.0.0.0');
      if (c.REDIS_SENTINELS) expect(at(c.REDIS_SENTINELS, 'sentinel')).toBe(3);
      if (c.REDIS_MASTER_NAME) expect(c.REDIS_MASTER_NAME).toBe(SENTINEL_MASTER_NAME);
      // parsed by the services' schema, a plain string in the agent's
      const etcd =
        typeof c.ETCD_ENDPOINTS === 'string'
          ? c.ETCD_ENDPOINTS.split(',')
          : ((c.ETCD_ENDPOINTS as { endpoints: string[] } | undefined)?.endpoints ?? []);
      expect(
        at(
          etcd.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port) })),
          'etcd',
        ),
      ).toBe(3);
      const http = containerPort(w, 'http');
      if ('HTTP_PORT' in c)
        expect({ ...where, port: c.HTTP_PORT }).toEqual({ ...where, port: http });
      if ('TCP_PORT' in c) expect(c.TCP_PORT).toBe(containerPort(w, 'rpc'));
      if ('DB_PRIMARY' in c) {
        expect(at([c.DB_PRIMARY, ...nodes(c.DB_REPLICAS)], 'mariadb')).toBe(3);
        expect(c.DB_NAME).toBe(w.name);
      }
      // registered in discovery under its pod's name and address
      if ('ADVERTISE_HOST' in c)
        expect({ id: c.INSTANCE_ID, advertise: c.ADVERTISE_HOST }).toEqual({
          id: w.podName,
          advertise: POD_IP,
        });
      if ('DASHBOARD_SERVICES' in c) {
        expect(at(c.MARIADB_NODES, 'mariadb')).toBe(3);
        expect(at(c.FAILOVER_AGENTS, 'failover-agent')).toBe(1);
      }
      if ('AGENT_ID' in c) {
        expect(at(c.MARIADB_NODES, 'mariadb')).toBe(3);
        expect(at(c.REDIS_NODES, 'redis')).toBe(2);
        expect({
          id: c.AGENT_ID,
          election: c.COORDINATION_BACKEND,
          stonith: c.STONITH,
          rejoin: c.REJOIN_FENCED,
        }).toEqual({ id: w.podName, election: 'etcd', stonith: 'command', rejoin: 'auto' });
      }
      if ('GATEWAY_PORT' in c) {
        expect(c.GATEWAY_PORT).toBe(containerPort(w, 'http'));
        // the sync's own port, declared for Prometheus (its /sd/prometheus), which alone may
        // reach it (the NetworkPolicies, below)
        expect(containerPort(w, 'sync')).toBe(c.SYNC_PORT);
        expect(c.SYNC_HOST).toBe('0.0.0.0');
      }
      // each service's own account, and the dashboard's, as db-init creates them
      if ('DB_USER' in c) {
        const dbInit = m.workload('db-init');
        const creds = credentialsFromEnv(m.environment(dbInit, dbInit.pod.containers[0]));
        expect({ user: c.DB_USER, password: c.DB_PASSWORD }).toEqual(
          'DB_NAME' in c ? creds.services[c.DB_NAME as ServiceDatabase] : creds.monitor,
        );
      }
      if ('STAYLINE_DB_ADMIN_USER' in c) {
        const dbInit = m.workload('db-init');
        const creds = credentialsFromEnv(m.environment(dbInit, dbInit.pod.containers[0]));
        expect({ user: c.STAYLINE_DB_ADMIN_USER, password: c.STAYLINE_DB_ADMIN_PASSWORD }).toEqual(
          creds.admin,
        );
        expect({ user: c.STAYLINE_DB_REPL_USER, password: c.STAYLINE_DB_REPL_PASSWORD }).toEqual(
          creds.replication,
        );
      }
      expect(Object.values(env).join(' ')).not.toMatch(/\$\(/);
    }
  });

  it('bootstrap MariaDB with db-init on the three nodes, waited for by every service on its own database', () => {
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      const dbInit = m.workload('db-init');
      const args = dbInit.pod.containers[0].command ?? [];
      const hosts = args.filter((_, i) => ['--primary', '--replica'].includes(args[i - 1]));
      expect(hosts).toEqual([
        'mariadb-0.mariadb:3306',
        'mariadb-1.mariadb:3306',
        'mariadb-2.mariadb:3306',
      ]);
      for (const h of hosts) expect(m.resolve(h.split(':')[0], 3306).workload.name).toBe('mariadb');
      const env = m.environment(dbInit, dbInit.pod.containers[0]);
      for (const key of [
        'MARIADB_ROOT_PASSWORD',
        'STAYLINE_DB_ADMIN_PASSWORD',
        'STAYLINE_DB_REPL_PASSWORD',
        ...SERVICE_DATABASES.map((db) => serviceDbVariable(db, 'PASSWORD')),
        'STAYLINE_DB_MONITOR_PASSWORD',
        'STAYLINE_DB_KIT_PASSWORD',
      ])
        expect({ overlay, key, set: Boolean(env[key]) }).toEqual({ overlay, key, set: true });
      const creds = credentialsFromEnv(env);
      for (const p of parsed.filter((x) => x.overlay === overlay && 'DB_NAME' in x.config)) {
        const wait = p.workload.pod.initContainers?.find((c) => c.name === 'wait-for-database');
        expect(wait).toBeDefined();
        const waitEnv = m.environment(p.workload, wait as Container);
        expect({ db: waitEnv.DB_NAME, user: waitEnv.DB_USER, password: waitEnv.MYSQL_PWD }).toEqual(
          {
            db: p.config.DB_NAME,
            user: creds.services[p.config.DB_NAME as ServiceDatabase].user,
            password: creds.services[p.config.DB_NAME as ServiceDatabase].password,
          },
        );
        expect(wait?.command?.[2]).toContain('--host=mariadb ');
      }
    }
  });

  it('select with every Service the pods of one workload, on ports those pods declare', () => {
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      for (const s of m.of('Service')) {
        const spec = s.spec as {
          selector: Record<string, string>;
          ports: Array<{ port: number; targetPort: string }>;
        };
        const pods = m.selected(spec.selector);
        expect({ overlay, service: s.metadata.name, workloads: pods.length }).toEqual({
          overlay,
          service: s.metadata.name,
          workloads: 1,
        });
        for (const p of spec.ports)
          expect({
            service: s.metadata.name,
            port: p.port,
            target: containerPort(pods[0], p.targetPort),
          }).toEqual({
            service: s.metadata.name,
            port: p.port,
            target: p.port,
          });
      }
      // every workload but the one-shot Jobs has a Service of its name, and every StatefulSet
      // its headless one; for Prometheus, the gateway its syncs' (inside the cluster) and the
      // agents a headless one (each pod's address)
      const extra: Record<string, string[]> = {
        gateway: ['gateway-sync'],
        'failover-agent': ['failover-agent-pods'],
      };
      for (const w of m.workloads.filter((x) => x.kind !== 'Job')) {
        const all = m
          .of('Service')
          .filter(
            (s) =>
              w.labels['app.kubernetes.io/name'] ===
              (s.spec as { selector: Record<string, string> }).selector['app.kubernetes.io/name'],
          );
        expect({ workload: w.name, services: all.map((s) => s.metadata.name).sort() }).toEqual({
          workload: w.name,
          services: [w.name, ...(extra[w.name] ?? [])].sort(),
        });
        const own = all.filter((s) => s.metadata.name === w.name);
        if (w.kind === 'StatefulSet') {
          const headless = own[0].spec as {
            clusterIP?: string;
            publishNotReadyAddresses?: boolean;
          };
          expect({
            workload: w.name,
            serviceName: (w.resource.spec as { serviceName: string }).serviceName,
            ...headless,
          }).toMatchObject({
            workload: w.name,
            serviceName: own[0].metadata.name,
            clusterIP: 'None',
            publishNotReadyAddresses: true,
          });
        }
      }
    }
  });

  it('probe readiness on /health/ready and liveness on /health/live, routes each app serves on the port it listens on', async () => {
    const routes = await appRoutes();
    for (const { overlay, workload: w, container: c, config } of parsed) {
      const app = appOf(c) ?? 'gateway';
      const probes = {
        readiness: c.readinessProbe as Probe,
        liveness: c.livenessProbe as Probe,
        startup: c.startupProbe as Probe | undefined,
      };
      const expected = {
        readiness: '/health/ready',
        liveness: '/health/live',
        startup: '/health/live',
      };
      for (const [kind, probe] of Object.entries(probes)) {
        if (!probe) continue;
        const where = { overlay, workload: w.name, kind };
        const want = expected[kind as keyof typeof expected];
        if (probe.httpGet) {
          const port = containerPort(w, probe.httpGet.port);
          expect({ ...where, path: probe.httpGet.path, port }).toEqual({
            ...where,
            path: want,
            port: config.HTTP_PORT,
          });
          expect({ ...where, served: routes[app].includes(want) }).toEqual({
            ...where,
            served: true,
          });
        } else {
          // the gateway: nginx's /health and the sync's own, over the image's stayline-health
          const [cmd, ...pairs] = probe.exec?.command ?? [];
          expect(cmd).toBe('stayline-health');
          expect(pairs).toEqual([
            String(config.GATEWAY_PORT),
            '/health',
            String(config.SYNC_PORT),
            want,
          ]);
          expect(routes.nginx).toContain('/health');
          expect(routes.gateway).toContain(want);
        }
      }
      expect(probes.readiness && probes.liveness).toBeTruthy();
    }
  });

  it('allow, by NetworkPolicy, exactly the connections the configurations name, and from outside only the gateway', () => {
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      const needed = neededConnections(m, overlay);
      const workloads = m.workloads;
      // every pair of pods, on every port a pod declares: allowed if and only if needed, by
      // each side on its own (the sender's egress, the receiver's ingress) and by both
      for (const from of workloads)
        for (const to of workloads)
          for (const c of containersOf(to))
            for (const p of c.ports ?? [])
              for (const sides of ['Egress', 'Ingress', 'both'] as const) {
                const link = `${from.name} -> ${to.name}:${p.containerPort}`;
                const allowed = m.allows(from, to, p.containerPort, 'TCP', sides);
                // the gateway's own ingress is open to everyone: it is the public entrance
                const open = sides === 'Ingress' && link.endsWith(' -> gateway:8080');
                expect({ overlay, sides, link, allowed }).toEqual({
                  overlay,
                  sides,
                  link,
                  allowed: needed.has(link) || open,
                });
              }
      expect(needed.size).toBeGreaterThan(40);
      // from outside the cluster: the gateway's nginx, nothing else (not its sync's port)
      for (const to of workloads)
        for (const c of containersOf(to))
          for (const port of [...(c.ports ?? []).map((p) => p.containerPort), 8081])
            expect({ overlay, to: to.name, port, allowed: m.allows(INTERNET, to, port) }).toEqual({
              overlay,
              to: to.name,
              port,
              allowed: to.name === 'gateway' && port === 8080,
            });
      // every pod resolves names; scrap reaches public web servers, never private ones
      for (const w of workloads)
        expect({ w: w.name, dns: m.allows(w, 'kube-dns', 53, 'UDP') }).toEqual({
          w: w.name,
          dns: true,
        });
      const scrap = m.workload('scrap');
      expect(m.allows(scrap, INTERNET, 443)).toBe(true);
      expect(m.allows(scrap, INTERNET, 80)).toBe(true);
      for (const target of [
        '10.0.0.5',
        '169.254.169.254',
        '127.0.0.1',
        '172.20.0.3',
        '192.168.1.1',
        '100.64.0.1',
      ])
        expect({ target, allowed: m.allows(scrap, target, 80) }).toEqual({
          target,
          allowed: false,
        });
      expect(m.allows(m.workload('reservation'), INTERNET, 443)).toBe(false);
      // the agents reach the Kubernetes API (their STONITH)
      expect(m.allows(m.workload('failover-agent'), '10.96.0.1', 443)).toBe(true);
    }
  });

  it('give every workload a disruption budget, spread its pods across nodes, and set requests and limits on every container', () => {
    eachWorkload((overlay, m, w) => {
      const where = { overlay, workload: w.name };
      for (const c of containersOf(w))
        for (const part of ['requests', 'limits'] as const)
          expect({
            ...where,
            container: c.name,
            part,
            cpu: !!c.resources?.[part]?.cpu,
            memory: !!c.resources?.[part]?.memory,
          }).toEqual({
            ...where,
            container: c.name,
            part,
            cpu: true,
            memory: true,
          });
      if (w.kind === 'Job') return;
      const budgets = m
        .of('PodDisruptionBudget')
        .filter((b) =>
          m
            .selected(
              (b.spec as { selector: { matchLabels: Record<string, string> } }).selector
                .matchLabels,
            )
            .includes(w),
        );
      expect({ ...where, budgets: budgets.map((b) => b.spec) }).toEqual({
        ...where,
        budgets: [expect.objectContaining({ maxUnavailable: 1 })],
      });
      expect({ ...where, spread: w.pod.topologySpreadConstraints }).toEqual({
        ...where,
        spread: [
          expect.objectContaining({
            topologyKey: 'kubernetes.io/hostname',
            maxSkew: 1,
            labelSelector: { matchLabels: { 'app.kubernetes.io/name': w.name } },
          }),
        ],
      });
    });
    // ha: no two members of a quorum or replica set on one node
    for (const name of ['mariadb', 'etcd', 'redis', 'sentinel']) {
      const affinity = (rendered.ha.workload(name).pod as { affinity?: unknown }).affinity;
      expect(affinity).toEqual({
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: { 'app.kubernetes.io/name': name } },
            },
          ],
        },
      });
      expect((rendered.dev.workload(name).pod as { affinity?: unknown }).affinity).toBeUndefined();
    }
  });

  it('scale reservation and payment on CPU, leaving their replica count to the autoscaler', () => {
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      const hpas = m.of('HorizontalPodAutoscaler');
      expect(hpas.map((h) => h.metadata.name).sort()).toEqual(['payment', 'reservation']);
      for (const h of hpas) {
        const spec = h.spec as {
          scaleTargetRef: { kind: string; name: string };
          minReplicas: number;
          maxReplicas: number;
          metrics: Array<{ resource: { name: string } }>;
        };
        const target = m.named(spec.scaleTargetRef.kind, spec.scaleTargetRef.name);
        expect((target.spec as { replicas?: number }).replicas).toBeUndefined();
        expect(spec.metrics.map((x) => x.resource.name)).toEqual(['cpu']);
        expect(spec.minReplicas).toBe(overlay === 'ha' ? 2 : 1);
        expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas);
        // utilisation is relative to the request: each container asks for CPU
        expect(
          m.workload(h.metadata.name as string).pod.containers[0].resources?.requests?.cpu,
        ).toBeDefined();
      }
    }
  });

  it('give every service time to deregister and drain before it is killed, and the gateway a preStop while the load balancer lets go', () => {
    for (const { overlay, workload: w, config } of parsed) {
      const grace = (w.pod.terminationGracePeriodSeconds ?? 30) * 1000;
      if ('DRAIN_DELAY_MS' in config) {
        // deregistered at SIGTERM, then the drain delay, then requests in flight (nginx's read timeout)
        expect({
          overlay,
          w: w.name,
          enough: grace >= (config.DRAIN_DELAY_MS as number) + GATEWAY_READ_TIMEOUT_MS,
        }).toEqual({ overlay, w: w.name, enough: true });
        expect(w.pod.containers[0].lifecycle).toBeUndefined();
      }
      if ('GATEWAY_PORT' in config) {
        const preStop = (
          w.pod.containers[0].lifecycle as { preStop: { exec: { command: string[] } } }
        ).preStop.exec.command;
        expect(preStop[0]).toBe('sleep');
        expect(Number(preStop[1]) * 1000 + GATEWAY_READ_TIMEOUT_MS).toBeLessThan(grace);
      }
    }
  });

  it('keep the instance that answered to themselves: the gateway removes X-Instance-Id, with the production limits', () => {
    const gateways = parsed.filter((p) => 'GATEWAY_PORT' in p.config);
    expect(gateways.map((g) => g.overlay).sort()).toEqual([...OVERLAYS].sort());
    for (const { overlay, env, config } of gateways) {
      expect({ overlay, set: env.GATEWAY_EXPOSE_INSTANCE_ID }).toEqual({ overlay, set: 'false' });
      expect({ overlay, exposed: config.GATEWAY_EXPOSE_INSTANCE_ID }).toEqual({
        overlay,
        exposed: false,
      });
      expect({ overlay, connections: config.GATEWAY_CONNECTIONS_PER_CLIENT }).toEqual({
        overlay,
        connections: 64,
      });
    }
  });

  it('keep secrets in the Secret stayline-secrets: dev-only values in dev, none at all in ha, every key the one docs/kubernetes.md has created', () => {
    const keys = (overlay: Overlay) => {
      const refs: Array<{ name: string; key: string }> = [];
      eachWorkload((o, m, w) => {
        if (o === overlay) for (const c of containersOf(w)) m.environment(w, c, refs);
      });
      return refs;
    };
    const haRefs = keys('ha');
    const haKeys = [...new Set(haRefs.map((r) => r.key))].sort();
    expect(haKeys).toEqual([
      'MARIADB_ROOT_PASSWORD',
      'STAYLINE_AUTH_ADMIN_PASSWORD',
      'STAYLINE_AUTH_ALICE_PASSWORD',
      'STAYLINE_AUTH_BOB_PASSWORD',
      'STAYLINE_AUTH_SIGNING_SECRETS',
      'STAYLINE_DB_ADMIN_PASSWORD',
      'STAYLINE_DB_KIT_PASSWORD',
      'STAYLINE_DB_MONITOR_PASSWORD',
      'STAYLINE_DB_PAYMENT_PASSWORD',
      'STAYLINE_DB_RECOMMENDATION_PASSWORD',
      'STAYLINE_DB_REPL_PASSWORD',
      'STAYLINE_DB_RESERVATION_PASSWORD',
      'STAYLINE_DB_SCRAP_PASSWORD',
      'STAYLINE_ETCD_AGENT_PASSWORD',
      'STAYLINE_ETCD_DASHBOARD_PASSWORD',
      'STAYLINE_ETCD_GATEWAY_SYNC_PASSWORD',
      'STAYLINE_ETCD_ROOT_PASSWORD',
      'STAYLINE_ETCD_SERVICE_PASSWORD',
      'STAYLINE_PAYMENT_SIGNING_KEY',
      'STAYLINE_RECOMMENDATION_SIGNING_KEY',
      'STAYLINE_REDIS_ADMIN_PASSWORD',
      'STAYLINE_REDIS_AGENT_PASSWORD',
      'STAYLINE_REDIS_DASHBOARD_PASSWORD',
      'STAYLINE_REDIS_GATEWAY_SYNC_PASSWORD',
      'STAYLINE_REDIS_REPLICA_PASSWORD',
      'STAYLINE_REDIS_SENTINEL_PASSWORD',
      'STAYLINE_REDIS_SERVICE_PASSWORD',
      'STAYLINE_RESERVATION_PUBLIC_KEY',
      'STAYLINE_RESERVATION_SIGNING_KEY',
      'STAYLINE_SCRAP_SIGNING_KEY',
      'STAYLINE_SENTINEL_PASSWORD',
    ]);
    expect(new Set(haRefs.map((r) => r.name))).toEqual(new Set(['stayline-secrets']));
    expect(rendered.ha.of('Secret')).toEqual([]);
    expect(JSON.stringify(rendered.ha.resources)).not.toMatch(/dev-only/i);
    // dev: one generated Secret holding every key, each value a dev-only one
    const [secret, ...others] = rendered.dev.of('Secret');
    expect(others).toEqual([]);
    expect(String(secret.metadata.name)).toMatch(/^stayline-secrets-[a-z0-9]{10}$/);
    const data = secret.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(haKeys);
    for (const v of Object.values(data))
      expect(Buffer.from(v, 'base64').toString()).toMatch(/^dev-only-/);
    expect(new Set(keys('dev').map((r) => r.name))).toEqual(new Set([secret.metadata.name]));
    // the command the doc gives creates exactly these keys
    const command =
      /kubectl (?:-n \S+ )?create secret generic stayline-secrets[^`]*/.exec(DOC)?.[0] ?? '';
    const created = [...command.matchAll(/--from-literal=([A-Z_]+)=/g)].map((x) => x[1]).sort();
    expect(created).toEqual(haKeys);
  });

  it('run in ha the topology docker-compose.yml runs (two gateways behind the load balancer), and one instance of each service in dev', () => {
    const composeCounts: Record<string, number> = {};
    for (const [name, s] of Object.entries(compose.services)) {
      // the one-shot jobs: db-init and etcd-auth are Jobs here, redis-auth an
      // initContainer of each Redis and Sentinel pod (checked below)
      if (s.profiles || ONE_SHOT.includes(name)) continue;
      const base = name.replace(/-\d+$/, '');
      composeCounts[base] = (composeCounts[base] ?? 0) + 1;
    }
    const count = (overlay: Overlay) => {
      const m = rendered[overlay];
      const hpa = (n: string) =>
        (
          m.of('HorizontalPodAutoscaler').find((h) => h.metadata.name === n)?.spec as
            { minReplicas?: number } | undefined
        )?.minReplicas;
      return Object.fromEntries(
        m.workloads.filter((w) => w.kind !== 'Job').map((w) => [w.name, hpa(w.name) ?? w.replicas]),
      );
    };
    expect(count('ha')).toEqual({ ...composeCounts, gateway: 2 });
    expect(composeCounts.gateway).toBe(1);
    const dev = count('dev');
    for (const app of [
      'auth',
      'reservation',
      'payment',
      'recommendation',
      'scrap',
      'dashboard',
      'failover-agent',
      'gateway',
    ])
      expect({ app, n: dev[app] }).toEqual({ app, n: 1 });
    for (const store of ['mariadb', 'redis', 'sentinel', 'etcd'])
      expect({ store, n: dev[store] }).toEqual({ store, n: composeCounts[store] });
    // the one-shot bootstrap, as compose's db-init
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      for (const job of ['db-init', 'etcd-auth'])
        expect({ job, kind: m.workload(job).kind }).toEqual({ job, kind: 'Job' });
      for (const store of ['redis', 'sentinel'])
        expect({
          store,
          init: m.workload(store).pod.initContainers?.map((c) => c.command?.slice(1, 3)),
        }).toEqual({ store, init: [['dist/infra/launcher/src/datastore-auth.js', 'redis-files']] });
    }
  });

  it('name etcd members stably (etcd-N.etcd) with the compose stack’s Raft timings, and hand the API to the agents alone, for the MariaDB pods alone', () => {
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      const etcd = m.workload('etcd');
      const c = etcd.pod.containers[0];
      const env = m.environment(etcd, c);
      const flags = Object.fromEntries(
        (c.command ?? []).slice(1).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2)),
      );
      const members = Array.from({ length: etcd.replicas }, (_, i) => `etcd-${i}`);
      expect(flags['initial-cluster']).toBe(
        members.map((n) => `${n}=http://${n}.etcd:2380`).join(','),
      );
      for (const n of members) expect(m.resolve(`${n}.etcd`, 2380).workload).toBe(etcd);
      expect(expand(flags['initial-advertise-peer-urls'], env)).toBe(
        `http://${etcd.podName}.etcd:2380`,
      );
      expect(expand(flags.name, env)).toBe(etcd.podName);
      const composeEtcd = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
      for (const timing of ['heartbeat-interval', 'election-timeout'])
        expect(composeEtcd).toContain(`--${timing}=${flags[timing]}`);
      // only the agents talk to the API: a token mounted nowhere else
      for (const w of m.workloads)
        expect({ w: w.name, token: w.pod.automountServiceAccountToken !== false }).toEqual({
          w: w.name,
          token: w.name === 'failover-agent',
        });
      const role = m.named('Role', 'failover-agent-stonith').rules as Array<{
        resources: string[];
        verbs: string[];
        resourceNames: string[];
      }>;
      const mariadb = m.workload('mariadb');
      expect(role).toEqual([
        {
          apiGroups: [''],
          resources: ['pods'],
          verbs: ['get', 'delete'],
          resourceNames: Array.from({ length: mariadb.replicas }, (_, i) => `mariadb-${i}`),
        },
      ]);
      const binding = m.named('RoleBinding', 'failover-agent-stonith') as Resource & {
        subjects: Array<{ name: string }>;
      };
      expect(binding.subjects.map((x) => x.name)).toEqual([
        m.workload('failover-agent').pod.serviceAccountName,
      ]);
      // only the gateway is exposed outside the cluster
      for (const s of m.of('Service'))
        expect({ s: s.metadata.name, type: (s.spec as { type?: string }).type }).toEqual({
          s: s.metadata.name,
          type: s.metadata.name === 'gateway' ? 'LoadBalancer' : undefined,
        });
      expect(m.of('Ingress')).toEqual([]);
    }
  });
  it('run Prometheus on the ConfigMap the native stack’s generator renders, the repository’s rules beside it, each target a pod listening there, read by the dashboard', async () => {
    // the base's files are the generator's output and the rules file, byte for byte
    const regenerate =
      'node scripts/run.cjs infra/prometheus/src/prometheus-config.ts kubernetes --out deploy/kubernetes/base/prometheus';
    const expected = prometheusFiles('kubernetes');
    expect(expected['stayline.rules.yml']).toBe(fs.readFileSync(PROMETHEUS_RULES, 'utf8'));
    for (const [file, text] of Object.entries(expected))
      expect({
        file,
        regenerate,
        upToDate:
          fs.readFileSync(path.join(KUBERNETES_DIR, 'base/prometheus', file), 'utf8') === text,
      }).toEqual({ file, regenerate, upToDate: true });
    const dockerfile = fs.readFileSync(
      path.join(ROOT, 'infra/docker/prometheus/Dockerfile'),
      'utf8',
    );
    for (const overlay of OVERLAYS) {
      const m = rendered[overlay];
      const { workload: w, container: c, flags, files, config } = prometheusOf(m);
      const where = { overlay };
      expect({ ...where, files }).toEqual({ ...where, files: expected });
      expect(w.kind).toBe('Deployment');
      expect(w.replicas).toBe(1);
      const port = containerPort(w, 'http');
      expect(flags).toEqual({
        'config.file': '/etc/stayline/prometheus/prometheus.yml',
        'storage.tsdb.path': '/prometheus',
        'storage.tsdb.retention.time': '1d',
        'web.listen-address': `0.0.0.0:${port}`,
      });
      // the rules beside the configuration (a path relative to it), in the same ConfigMap
      expect(config.rule_files).toEqual(['stayline.rules.yml']);
      // its series in a volume where the flag says; the configuration read-only
      const mounts = Object.fromEntries((c.volumeMounts ?? []).map((v) => [v.mountPath, v]));
      expect(mounts['/etc/stayline/prometheus']).toMatchObject({ readOnly: true });
      const data = w.pod.volumes?.find((v) => v.name === mounts['/prometheus']?.name) as
        { emptyDir?: object } | undefined;
      expect(data?.emptyDir).toBeDefined();
      // as the image's user, on its own health routes
      const pod = w.pod as { securityContext?: { runAsUser?: number } };
      expect(dockerfile).toContain(`--uid ${pod.securityContext?.runAsUser} `);
      expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/-/ready', port: 'http' } });
      expect(c.livenessProbe).toMatchObject({ httpGet: { path: '/-/healthy', port: 'http' } });
      // every target: the syncs' discovery (on the gateway pods' sync port, which their
      // environment opens), the agents' pods through a headless Service, each etcd member
      const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
      expect(Object.keys(jobs).sort()).toEqual(['etcd', 'failover-agent', 'services']);
      const sd = new URL(jobs.services.http_sd_configs?.[0].url ?? '');
      const gateway = parsed.find((p) => p.overlay === overlay && 'GATEWAY_PORT' in p.config);
      expect({ path: sd.pathname, ...m.resolve(sd.hostname, Number(sd.port)) }).toEqual({
        path: '/sd/prometheus',
        workload: gateway?.workload,
        targetPort: gateway?.config.SYNC_PORT,
      });
      const dns = jobs['failover-agent'].dns_sd_configs ?? [];
      expect(dns).toHaveLength(1);
      const agents = m.resolve(dns[0].names[0], dns[0].port);
      expect(agents.workload.name).toBe('failover-agent');
      expect(agents.targetPort).toBe(containerPort(agents.workload, 'http'));
      expect(m.named('Service', dns[0].names[0]).spec).toMatchObject({ clusterIP: 'None' });
      const etcd = m.workload('etcd');
      expect(
        (jobs.etcd.static_configs ?? []).map((st) => {
          const [host, p] = st.targets[0].split(':');
          const { workload, targetPort } = m.resolve(host, Number(p));
          return { instance: st.labels?.instance, workload: workload.name, targetPort };
        }),
      ).toEqual(
        Array.from({ length: etcd.replicas }, (_, i) => ({
          instance: `etcd-${i}`,
          workload: 'etcd',
          targetPort: 2379,
        })),
      );
      // the dashboard reads its charts' series from it
      const dashboard = parsed.find(
        (p) => p.overlay === overlay && p.workload.name === 'dashboard',
      );
      const url = new URL(dashboard?.env.PROMETHEUS_URL ?? '');
      expect(m.resolve(url.hostname, Number(url.port))).toEqual({ workload: w, targetPort: port });
    }
    // a configuration the server accepts, with its rules (promtool, Debian's package)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-k8s-prometheus-'));
    try {
      for (const [file, text] of Object.entries(expected))
        fs.writeFileSync(path.join(dir, file), text);
      const check = spawnSync('promtool', ['check', 'config', path.join(dir, 'prometheus.yml')], {
        encoding: 'utf8',
      });
      expect({ status: check.status, out: check.stdout + check.stderr }).toEqual({
        status: 0,
        out: expect.stringContaining('SUCCESS'),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** nginx's read timeout towards the services (libs/gateway): how long a request may be in flight. */
const GATEWAY_READ_TIMEOUT_MS = 10_000;

interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
}

/**
 * The GET routes each app serves: its Nest module tree walked for controllers (the
 * failover agent's module starts its agent when built, so its controllers are read from
 * its module's file), nginx's from the gateway template, the sync's from its main.
 */
async function appRoutes(): Promise<Record<string, string[]>> {
  const GET = 0;
  const routesOf = (controllers: Array<new (...a: never[]) => unknown>) =>
    controllers.flatMap((k) => {
      const base = String(Reflect.getMetadata('path', k) ?? '');
      return Object.getOwnPropertyNames(k.prototype).flatMap((method) => {
        const handler = (k.prototype as Record<string, unknown>)[method];
        if (typeof handler !== 'function' || Reflect.getMetadata('method', handler) !== GET)
          return [];
        const sub = String(Reflect.getMetadata('path', handler) ?? '');
        return [`/${[base, sub].filter((x) => x && x !== '/').join('/')}`.replace(/\/+/g, '/')];
      });
    });
  const walk = (mod: unknown, seen = new Set<unknown>()): Array<new () => unknown> => {
    if (!mod || seen.has(mod)) return [];
    seen.add(mod);
    const dynamic = mod as {
      module?: object;
      controllers?: Array<new () => unknown>;
      imports?: unknown[];
    };
    const cls = dynamic.module ?? mod;
    const controllers = [
      ...(dynamic.controllers ?? []),
      ...((Reflect.getMetadata('controllers', cls) as Array<new () => unknown>) ?? []),
    ];
    const imports = [
      ...(dynamic.imports ?? []),
      ...((Reflect.getMetadata('imports', cls) as unknown[]) ?? []),
    ];
    return [...controllers, ...imports.flatMap((i) => walk(i, seen))];
  };
  const routes: Record<string, string[]> = {};
  for (const { workload, container, config } of parsed.filter((p) => p.overlay === 'ha')) {
    const app = appOf(container);
    if (!app || app === 'failover-agent') continue;
    const mod = (await import(path.join(ROOT, 'apps', app, 'src', 'app.module.ts'))) as {
      AppModule: { forRoot(c: unknown): unknown };
    };
    routes[app] = routesOf(walk(mod.AppModule.forRoot({ ...config, LOG_LEVEL: 'silent' })));
    expect({ app: workload.name, routes: routes[app].length }).toEqual({
      app: workload.name,
      routes: expect.any(Number),
    });
  }
  const agentModule = fs.readFileSync(
    path.join(ROOT, 'apps/failover-agent/src/app.module.ts'),
    'utf8',
  );
  const agentControllers =
    /controllers: \[([^\]]+)\]/
      .exec(agentModule)?.[1]
      .split(',')
      .map((x) => x.trim()) ?? [];
  expect(agentControllers).toContain('HealthController');
  const { HealthController } = (await import(
    path.join(ROOT, 'apps/failover-agent/src/http/health.controller.ts')
  )) as {
    HealthController: new () => unknown;
  };
  routes['failover-agent'] = routesOf([HealthController]);
  const template = fs.readFileSync(path.join(ROOT, 'libs/gateway/src/nginx.conf.template'), 'utf8');
  routes.nginx = [...template.matchAll(/location = (\/[\w/]+) \{\s*return 200/g)].map((x) => x[1]);
  const syncMain = fs.readFileSync(path.join(ROOT, 'infra/gateway-sync/src/main.ts'), 'utf8');
  routes.gateway = [...syncMain.matchAll(/url === '(\/[\w/]+)'/g)].map((x) => x[1]);
  return routes;
}

/**
 * Every connection some process's configuration names, as `from -> to:port`: the
 * datastores its settings list (a Sentinel hands out the Redis primary, so a Sentinel's
 * client also reaches Redis), the callees in its source (reservation's dependency
 * clients), the gateway's routes, the dashboard's probes; and the datastores' own
 * traffic: replication, Sentinels and Redis finding each other, etcd's Raft.
 */
function neededConnections(m: ClusterModel, overlay: Overlay): Set<string> {
  const links = new Set<string>();
  const add = (from: string, host: string, port: number) => {
    const { workload, targetPort } = m.resolve(host, port);
    links.add(`${from} -> ${workload.name}:${targetPort}`);
  };
  const hostPorts = (v: unknown) =>
    Array.isArray(v) ? (v as Array<{ host: string; port: number }>) : [];
  const httpOf = (app: string) => containerPort(m.workload(app), 'http') as number;
  for (const { workload: w, config: c, env } of parsed.filter((p) => p.overlay === overlay)) {
    for (const n of [
      c.DB_PRIMARY,
      ...hostPorts(c.DB_REPLICAS),
      ...hostPorts(c.MARIADB_NODES),
    ].filter(Boolean) as Array<{ host: string; port: number }>)
      add(w.name, n.host, n.port);
    for (const n of hostPorts(c.REDIS_SENTINELS)) add(w.name, n.host, n.port);
    if (hostPorts(c.REDIS_SENTINELS).length)
      for (let i = 0; i < m.workload('redis').replicas; i++) add(w.name, `redis-${i}.redis`, 6379);
    for (const n of hostPorts(c.REDIS_NODES)) add(w.name, n.host, n.port);
    for (const n of hostPorts(c.FAILOVER_AGENTS)) add(w.name, n.host, n.port);
    // the spans of an app that traces (its main imports ./tracing) go to the OTLP endpoint
    const tracer = appOf(w.pod.containers[0]);
    if (
      env.OTEL_EXPORTER_OTLP_ENDPOINT &&
      tracer &&
      fs.existsSync(path.join(ROOT, 'apps', tracer, 'src', 'tracing.ts'))
    ) {
      const url = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT);
      add(w.name, url.hostname, Number(url.port));
    }
    // the charts' series
    if (env.PROMETHEUS_URL) {
      const url = new URL(env.PROMETHEUS_URL);
      add(w.name, url.hostname, Number(url.port));
    }
    const etcd =
      typeof c.ETCD_ENDPOINTS === 'string'
        ? c.ETCD_ENDPOINTS.split(',')
        : ((c.ETCD_ENDPOINTS as { endpoints?: string[] } | undefined)?.endpoints ?? []);
    for (const u of etcd) add(w.name, new URL(u).hostname, Number(new URL(u).port));
    // the services it calls over TCP, found in the registry
    const app = appOf(w.pod.containers[0]);
    for (const callee of app ? dependencyClients(app) : [])
      links.add(`${w.name} -> ${callee}:${containerPort(m.workload(callee), 'rpc')}`);
    // the instances it shows: /health/ready of everything registered
    for (const s of (c.DASHBOARD_SERVICES as string[] | undefined) ?? [])
      links.add(`${w.name} -> ${s}:${httpOf(s)}`);
    if ('GATEWAY_PORT' in c)
      for (const r of GATEWAY_ROUTES) links.add(`${w.name} -> ${r.service}:${httpOf(r.service)}`);
  }
  // db-init's command line; replicas pull from the primary (CHANGE MASTER to a node's name)
  const init = m.workload('db-init').pod.containers[0].command ?? [];
  for (const a of init.filter((_, i) => ['--primary', '--replica'].includes(init[i - 1])))
    add('db-init', a.split(':')[0], Number(a.split(':')[1]));
  // etcd-auth's command line: the members it sets auth up on
  const etcdAuth = m.workload('etcd-auth').pod.containers[0].command ?? [];
  for (const u of etcdAuth[etcdAuth.indexOf('--endpoints') + 1].split(','))
    add('etcd-auth', new URL(u).hostname, Number(new URL(u).port));
  for (let i = 0; i < m.workload('mariadb').replicas; i++)
    add('mariadb', `mariadb-${i}.mariadb`, 3306);
  // the Redis and Sentinel start scripts ask the Sentinels and the Redis pods their env names
  for (const name of ['redis', 'sentinel']) {
    const w = m.workload(name);
    const env = m.environment(w, w.pod.containers[0]);
    for (const peer of env.REDIS_PEERS.split(',')) add(name, peer, 6379);
    for (const s of env.REDIS_SENTINELS.split(','))
      add(name, s.split(':')[0], Number(s.split(':')[1]));
  }
  // etcd members: Raft on the peer URLs of --initial-cluster
  const etcdFlags = m.workload('etcd').pod.containers[0].command ?? [];
  const cluster =
    etcdFlags
      .find((f) => f.startsWith('--initial-cluster='))
      ?.split('=')
      .slice(1)
      .join('=') ?? '';
  for (const member of cluster.split(',')) {
    const url = new URL(member.slice(member.indexOf('=') + 1));
    add('etcd', url.hostname, Number(url.port));
  }
  // Prometheus: the sync it asks, every instance the sync lists (the gateway's routed
  // services, registered at their pods' HTTP ports), and its other targets
  const { config } = prometheusOf(m);
  for (const job of config.scrape_configs) {
    for (const sd of job.http_sd_configs ?? []) {
      const url = new URL(sd.url);
      add('prometheus', url.hostname, Number(url.port));
      for (const service of gatewayServices())
        links.add(`prometheus -> ${service}:${httpOf(service)}`);
    }
    for (const dns of job.dns_sd_configs ?? [])
      for (const name of dns.names) add('prometheus', name, dns.port);
    for (const st of job.static_configs ?? [])
      for (const t of st.targets) add('prometheus', t.split(':')[0], Number(t.split(':')[1]));
  }
  return links;
}

/** Prometheus' configuration as its pod reads it: the file its flag names, in the ConfigMap mounted there. */
interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: Array<{
    job_name: string;
    http_sd_configs?: Array<{ url: string }>;
    dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
    static_configs?: Array<{ targets: string[]; labels?: Record<string, string> }>;
  }>;
}
function prometheusOf(m: ClusterModel): {
  workload: Workload;
  container: Container;
  flags: Record<string, string>;
  files: Record<string, string>;
  config: PrometheusConfig;
} {
  const workload = m.workload('prometheus');
  const container = workload.pod.containers[0];
  const flags = Object.fromEntries(
    (container.command ?? []).slice(1).map((a) => a.slice(2).split(/=(.*)/s).slice(0, 2)),
  ) as Record<string, string>;
  const file = flags['config.file'];
  const mount = (container.volumeMounts ?? []).find((v) => v.mountPath === path.dirname(file));
  const volume = workload.pod.volumes?.find((v) => v.name === mount?.name);
  if (!volume?.configMap) throw new Error(`prometheus: no ConfigMap mounted at ${file}`);
  const files = m.named('ConfigMap', volume.configMap.name).data as Record<string, string>;
  const config = load(files[path.basename(file)]) as PrometheusConfig;
  return { workload, container, flags, files, config };
}

/** The services an app calls through its dependency clients (`DependencyClient.connect({ service })`). */
function dependencyClients(app: string): string[] {
  const dir = path.join(ROOT, 'apps', app, 'src');
  const files = fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.includes('spec'));
  return files.flatMap((f) => {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    return text.includes('DependencyClient.connect')
      ? [...text.matchAll(/DependencyClient\.connect\(\{[^}]*?service: '([\w-]+)'/gs)].map(
          (x) => x[1],
        )
      : [];
  });
}
