/**
 * The rendered manifests read as a cluster would run them, for the specs: the workloads
 * and their pods' labels, each container's environment as the kubelet would assemble it
 * (ConfigMaps, Secrets, the downward API), what a name like `mariadb-0.mariadb` or
 * `failover-agent` resolves to, and whether the NetworkPolicies let one pod reach another.
 */
import { isIP } from 'node:net';
import { generateServiceKeys } from '@stayline/service-runtime';
import type { Resource } from './kustomize';
import type { JsonObject } from './strategic-merge';

type Labels = Record<string, string>;

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: JsonObject }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  imagePullPolicy?: string;
  resources?: { requests?: Labels; limits?: Labels };
  readinessProbe?: JsonObject;
  livenessProbe?: JsonObject;
  startupProbe?: JsonObject;
  lifecycle?: JsonObject;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string } }>;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  topologySpreadConstraints?: JsonObject[];
}

export interface Workload {
  kind: 'Deployment' | 'StatefulSet' | 'Job';
  name: string;
  resource: Resource;
  labels: Labels;
  pod: PodSpec;
  replicas: number;
  /** A pod's name as the downward API gives it (`metadata.name`). */
  podName: string;
}

/** The address the downward API hands every pod here (`status.podIP`). */
export const POD_IP = '10.244.1.17';
/** An address outside the cluster: a client of the load balancer, a public web server. */
export const INTERNET = '203.0.113.80';

export class ClusterModel {
  readonly workloads: Workload[];

  constructor(readonly resources: Resource[]) {
    this.workloads = resources
      .filter((r) => ['Deployment', 'StatefulSet', 'Job'].includes(r.kind))
      .map((r) => {
        const spec = r.spec as JsonObject;
        const template = spec.template as unknown as {
          metadata?: { labels?: Labels };
          spec: PodSpec;
        };
        const name = String(r.metadata.name);
        const kind = r.kind as Workload['kind'];
        return {
          kind,
          name,
          resource: r,
          labels: template.metadata?.labels ?? {},
          pod: template.spec,
          replicas: typeof spec.replicas === 'number' ? spec.replicas : 1,
          podName:
            kind === 'StatefulSet'
              ? `${name}-0`
              : kind === 'Job'
                ? `${name}-x7k2p`
                : `${name}-5d8c7b9f6d-x2x9q`,
        };
      });
  }

  of(kind: string): Resource[] {
    return this.resources.filter((r) => r.kind === kind);
  }

  named(kind: string, name: string): Resource {
    const found = this.resources.find((r) => r.kind === kind && r.metadata.name === name);
    if (!found) throw new Error(`no ${kind} ${name}`);
    return found;
  }

  workload(name: string): Workload {
    const w = this.workloads.find((x) => x.name === name);
    if (!w) throw new Error(`no workload ${name}`);
    return w;
  }

  /** A ConfigMap or Secret by the name a pod refers to it (generated names are suffixed). */
  private data(kind: 'ConfigMap' | 'Secret', name: string): Labels | undefined {
    const r = this.resources.find((x) => x.kind === kind && x.metadata.name === name);
    if (!r) return undefined;
    const data = (r.data ?? {}) as Labels;
    return kind === 'Secret'
      ? Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
        )
      : data;
  }

  /**
   * The container's environment as the kubelet assembles it: envFrom first, then env in
   * order (later wins). A Secret the overlay does not hold (the operator creates it) gives
   * `secret:<key>:<hex>`, as long as a generated one (an admin token needs 32 bytes); every
   * Secret reference is also reported to `secretRefs`.
   */
  environment(
    w: Workload,
    c: Container,
    secretRefs: Array<{ name: string; key: string }> = [],
  ): Labels {
    const env: Labels = {};
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef) {
        const data = this.data('ConfigMap', from.configMapRef.name);
        if (!data) throw new Error(`${w.name}: no ConfigMap ${from.configMapRef.name}`);
        Object.assign(env, data);
      }
      if (from.secretRef) throw new Error(`${w.name}: a whole Secret as environment`);
    }
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = expand(e.value, env);
      const from = e.valueFrom as
        | {
            fieldRef?: { fieldPath: string };
            configMapKeyRef?: { name: string; key: string };
            secretKeyRef?: { name: string; key: string };
          }
        | undefined;
      if (!from) continue;
      if (from.fieldRef) {
        const field = from.fieldRef.fieldPath;
        if (field === 'metadata.name') env[e.name] = w.podName;
        else if (field === 'status.podIP') env[e.name] = POD_IP;
        else throw new Error(`${w.name}: downward API field ${field}`);
      } else if (from.configMapKeyRef) {
        const { name, key } = from.configMapKeyRef;
        const value = this.data('ConfigMap', name)?.[key];
        if (value === undefined) throw new Error(`${w.name}: ConfigMap ${name} has no ${key}`);
        env[e.name] = value;
      } else if (from.secretKeyRef) {
        const { name, key } = from.secretKeyRef;
        secretRefs.push({ name, key });
        const secret = this.data('Secret', name);
        if (secret && secret[key] === undefined)
          throw new Error(`${w.name}: Secret ${name} has no ${key}`);
        env[e.name] = secret ? secret[key] : operatorSecret(key);
      }
    }
    return env;
  }

  /** The pods a label selector picks. */
  selected(selector: Labels): Workload[] {
    return this.workloads.filter((w) => matches(selector, w.labels));
  }

  /**
   * Where a host a setting names leads: `<pod>.<service>` (a StatefulSet pod behind a
   * headless Service), or `<service>`; with the port each pod listens on behind it.
   */
  resolve(host: string, port: number): { workload: Workload; targetPort: number } {
    const parts = host.split('.');
    if (parts.length > 2 || isIP(host)) throw new Error(`${host}: a name, not an address`);
    const service = this.named('Service', parts[parts.length - 1]);
    const spec = service.spec as {
      clusterIP?: string;
      selector: Labels;
      ports: Array<{ port: number; targetPort?: number | string }>;
    };
    const [workload, ...others] = this.selected(spec.selector);
    if (!workload || others.length)
      throw new Error(`${host}: selects ${others.length + 1} workloads`);
    if (parts.length === 2) {
      const [podName] = parts;
      const ordinal = Number(/-(\d+)$/.exec(podName)?.[1] ?? NaN);
      const sts = workload.resource.spec as { serviceName?: string };
      if (
        workload.kind !== 'StatefulSet' ||
        spec.clusterIP !== 'None' ||
        sts.serviceName !== service.metadata.name ||
        podName !== `${workload.name}-${ordinal}` ||
        !(ordinal < workload.replicas)
      )
        throw new Error(`${host}: no such pod behind the headless Service ${parts[1]}`);
    }
    const servicePort = spec.ports.find((p) => p.port === port);
    if (!servicePort) throw new Error(`${host}: its Service has no port ${port}`);
    const targetPort = containerPort(workload, servicePort.targetPort ?? port);
    if (targetPort === undefined) throw new Error(`${host}:${port}: no container listens there`);
    return { workload, targetPort };
  }

  /**
   * Whether the NetworkPolicies let `from` open a connection to `to` on `port`: both sides
   * (`from`'s egress and `to`'s ingress), or one of them alone.
   */
  allows(
    from: Workload | string,
    to: Workload | string,
    port: number,
    protocol = 'TCP',
    sides: 'both' | 'Egress' | 'Ingress' = 'both',
  ): boolean {
    const egress =
      sides === 'Ingress' ||
      typeof from === 'string' ||
      this.side(from, 'Egress', to, port, protocol);
    const ingress =
      sides === 'Egress' ||
      typeof to === 'string' ||
      this.side(to, 'Ingress', from, port, protocol);
    return egress && ingress;
  }

  private side(
    subject: Workload,
    type: 'Ingress' | 'Egress',
    peer: Workload | string,
    port: number,
    protocol: string,
  ): boolean {
    const policies = this.of('NetworkPolicy')
      .map((p) => p.spec as JsonObject)
      .filter(
        (s) =>
          (s.policyTypes as string[]).includes(type) &&
          selects(s.podSelector as JsonObject, subject.labels),
      );
    if (!policies.length) return true;
    const field = type === 'Ingress' ? 'ingress' : 'egress';
    const peers = type === 'Ingress' ? 'from' : 'to';
    return policies.some((s) =>
      ((s[field] as JsonObject[] | undefined) ?? []).some(
        (rule) =>
          portMatches(
            rule.ports as JsonObject[] | undefined,
            subject,
            peer,
            type,
            port,
            protocol,
          ) &&
          (rule[peers] === undefined ||
            (rule[peers] as JsonObject[]).some((p) => peerMatches(p, peer))),
      ),
    );
  }
}

/** `$(VAR)` as the kubelet expands it in env values and commands. */
export function expand(text: string, env: Labels): string {
  return text.replace(
    /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
    (whole, name: string) => env[name] ?? whole,
  );
}

const matches = (selector: Labels, labels: Labels) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function selects(selector: JsonObject, labels: Labels): boolean {
  const matchLabels = (selector.matchLabels ?? {}) as Labels;
  const expressions = (selector.matchExpressions ?? []) as Array<{
    key: string;
    operator: string;
    values?: string[];
  }>;
  return (
    matches(matchLabels, labels) &&
    expressions.every((e) => {
      if (e.operator === 'In') return (e.values ?? []).includes(labels[e.key]);
      if (e.operator === 'NotIn') return !(e.values ?? []).includes(labels[e.key]);
      if (e.operator === 'Exists') return e.key in labels;
      if (e.operator === 'DoesNotExist') return !(e.key in labels);
      throw new Error(`selector operator ${e.operator}`);
    })
  );
}

/** A container port of the workload's pods, by number or by name. */
export function containerPort(w: Workload, port: number | string): number | undefined {
  const all = [...w.pod.containers, ...(w.pod.initContainers ?? [])].flatMap((c) => c.ports ?? []);
  const found = all.find((p) =>
    typeof port === 'number' ? p.containerPort === port : p.name === port,
  );
  return found?.containerPort;
}

function portMatches(
  ports: JsonObject[] | undefined,
  subject: Workload,
  peer: Workload | string,
  type: 'Ingress' | 'Egress',
  port: number,
  protocol: string,
): boolean {
  if (!ports) return true;
  // a named port is the destination pod's
  const destination = type === 'Ingress' ? subject : peer;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return p.port === port;
    return typeof destination !== 'string' && containerPort(destination, p.port as string) === port;
  });
}

/** A peer of a rule: pods of this namespace by label, or addresses (ipBlock). */
function peerMatches(p: JsonObject, peer: Workload | string): boolean {
  if (p.ipBlock) {
    if (typeof peer !== 'string') return false;
    const block = p.ipBlock as { cidr: string; except?: string[] };
    return inCidr(peer, block.cidr) && !(block.except ?? []).some((c) => inCidr(peer, c));
  }
  // kube-dns in kube-system, the only other namespace a rule names
  if (p.namespaceSelector) return peer === 'kube-dns';
  if (p.podSelector)
    return typeof peer !== 'string' && selects(p.podSelector as JsonObject, peer.labels);
  return false;
}

export function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
}

/**
 * What the operator puts under `key` in a Secret the overlay does not hold: a
 * service's message key as `npm run -s keys:service` prints it (its seed, or
 * `reservation=<public key>`), any other secret as `secret:<key>:<hex>`.
 */
function operatorSecret(key: string): string {
  const m = /^STAYLINE_([A-Z]+)_(SIGNING|PUBLIC)_KEY$/.exec(key);
  if (!m) return `secret:${key}:${'0'.repeat(64)}`;
  const keys = generateServiceKeys(m[1].toLowerCase());
  return m[2] === 'SIGNING' ? keys.seed : keys.publicKey;
}
