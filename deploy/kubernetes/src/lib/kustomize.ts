/**
 * The part of Kustomize stayline's manifests use, so that `npm run k8s:render` needs
 * nothing but Node: `resources` (files and directories with their own
 * kustomization.yaml), `configMapGenerator` (files and literals) and `secretGenerator`
 * (literals), each generated name suffixed with the hash kustomize gives it and every
 * reference to it in a pod template renamed, `patches` (strategic merge, one document per
 * file, by path), and `replicas`. The result is ordered and printed as
 * `kubectl kustomize` prints it (deploy/kubernetes/src/kustomize.spec.ts compares the two
 * byte for byte wherever kubectl is installed). Any other field is refused by name.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { deletesResource, isObject, JsonObject, strategicMerge } from './strategic-merge';
import { toYaml } from './yaml-output';

export type Resource = JsonObject & { apiVersion: string; kind: string; metadata: JsonObject };

interface Generator {
  name: string;
  files?: string[];
  literals?: string[];
  type?: string;
}

interface Kustomization {
  resources?: string[];
  patches?: Array<{ path: string }>;
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  replicas?: Array<{ name: string; count: number }>;
}

const FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'patches',
  'configMapGenerator',
  'secretGenerator',
  'replicas',
]);
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** A resource as built, with the name generators gave it before the hash suffix. */
interface Built {
  resource: Resource;
  /** Set for a generated ConfigMap or Secret: its name before the suffix. */
  generatedName?: string;
}

/** The overlay's resources, in kubectl kustomize's order. */
export function build(dir: string): Resource[] {
  const built = buildDir(path.resolve(dir));
  suffixGeneratedNames(built);
  return sortLikeKustomize(built.map((b) => b.resource));
}

/** The overlay as `kubectl kustomize <dir>` prints it. */
export function render(dir: string): string {
  return build(dir)
    .map((r) => toYaml(r))
    .join('---\n');
}

function readKustomization(dir: string): Kustomization {
  const file = KUSTOMIZATION_FILES.map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`${dir}: no kustomization.yaml`);
  const [k] = loadAll(fs.readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
  for (const field of Object.keys(k ?? {}))
    if (!FIELDS.has(field))
      throw new Error(
        `${file}: "${field}" is not supported by this renderer (see docs/kubernetes.md)`,
      );
  return (k ?? {}) as Kustomization;
}

function buildDir(dir: string): Built[] {
  const k = readKustomization(dir);
  let built: Built[] = [];
  for (const entry of k.resources ?? []) {
    const target = path.resolve(dir, entry);
    if (fs.statSync(target).isDirectory()) built.push(...buildDir(target));
    else built.push(...readResources(target).map((resource) => ({ resource })));
  }
  for (const g of k.configMapGenerator ?? []) built.push(generated('ConfigMap', dir, g));
  for (const g of k.secretGenerator ?? []) built.push(generated('Secret', dir, g));
  assertUnique(built, dir);
  for (const p of k.patches ?? []) built = applyPatchFile(built, path.resolve(dir, p.path));
  for (const r of k.replicas ?? []) setReplicas(built, r.name, r.count, dir);
  return built;
}

/** `mode: 0555`: octal to kubectl's YAML 1.1 reader, decimal 555 to js-yaml's 1.2 one. */
const LEADING_ZERO = /^[^#\n]*:[ \t]+0[0-7]+[ \t]*(?:[,}\]#].*)?$/m;

function readResources(file: string): Resource[] {
  const text = fs.readFileSync(file, 'utf8');
  const octal = LEADING_ZERO.exec(text);
  if (octal)
    throw new Error(`${file}: "${octal[0].trim()}" reads as octal to kubectl: write it in decimal`);
  return (loadAll(text) as unknown[])
    .filter((d) => d !== null && d !== undefined)
    .map((d) => {
      if (!isObject(d as never)) throw new Error(`${file}: a document that is not a mapping`);
      const r = d as Resource;
      if (!r.apiVersion || !r.kind || typeof r.metadata?.name !== 'string')
        throw new Error(`${file}: every resource needs apiVersion, kind and metadata.name`);
      return r;
    });
}

const idOf = (r: Resource) => `${r.apiVersion}/${r.kind}/${String(r.metadata.name)}`;

function assertUnique(built: Built[], dir: string): void {
  const seen = new Set<string>();
  for (const { resource } of built) {
    const id = idOf(resource);
    if (seen.has(id)) throw new Error(`${dir}: ${id} is declared twice`);
    seen.add(id);
  }
}

/** One patch per file: kustomize before 5.1 (kubectl 1.27 to 1.30) reads no more. */
function applyPatchFile(built: Built[], file: string): Built[] {
  const patches = readResources(file);
  if (patches.length !== 1)
    throw new Error(
      `${file}: ${patches.length} documents; kubectl before 1.31 takes one per patch`,
    );
  let out = built;
  for (const patch of patches) {
    const i = out.findIndex(
      (b) =>
        b.resource.kind === patch.kind &&
        b.resource.apiVersion === patch.apiVersion &&
        (b.generatedName ?? b.resource.metadata.name) === patch.metadata.name,
    );
    if (i < 0) throw new Error(`${file}: patches ${idOf(patch)}, which no resource is`);
    if (deletesResource(patch)) out = out.filter((_, j) => j !== i);
    else
      out = out.map((b, j) =>
        j === i ? { ...b, resource: strategicMerge(b.resource, patch) as Resource } : b,
      );
  }
  return out;
}

function setReplicas(built: Built[], name: string, count: number, dir: string): void {
  const scalable = built.filter(
    (b) =>
      ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(b.resource.kind) &&
      b.resource.metadata.name === name,
  );
  if (!scalable.length) throw new Error(`${dir}: replicas for ${name}, which nothing scalable is`);
  for (const b of scalable) (b.resource.spec as JsonObject).replicas = count;
}

/** `KEY=value` literals and `[key=]path` files, in the order kustomize adds them. */
function generatorData(dir: string, g: Generator): Record<string, string> {
  const data: Record<string, string> = {};
  for (const literal of g.literals ?? []) {
    const i = literal.indexOf('=');
    if (i <= 0) throw new Error(`${dir}: ${g.name}: literal "${literal}" is not KEY=value`);
    data[literal.slice(0, i)] = literal.slice(i + 1);
  }
  for (const entry of g.files ?? []) {
    const i = entry.indexOf('=');
    const [key, file] =
      i > 0 ? [entry.slice(0, i), entry.slice(i + 1)] : [path.basename(entry), entry];
    const full = path.resolve(dir, file);
    if (path.relative(dir, full).startsWith('..'))
      throw new Error(
        `${dir}: ${g.name}: ${file} is outside the kustomization (kustomize refuses it)`,
      );
    data[key] = fs.readFileSync(full, 'utf8');
  }
  return sortedObject(data);
}

/** A generated ConfigMap, or a Secret (its values base64, its type Opaque unless given). */
function generated(kind: 'ConfigMap' | 'Secret', dir: string, g: Generator): Built {
  const data = generatorData(dir, g);
  const resource: Resource = { apiVersion: 'v1', kind, metadata: { name: g.name } };
  if (kind === 'Secret') {
    resource.type = g.type ?? 'Opaque';
    resource.data = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
  } else resource.data = data;
  return { generatedName: g.name, resource };
}

const sortedObject = <T>(o: Record<string, T>): Record<string, T> =>
  Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );

/**
 * JSON as Go's encoding/json writes it: keys sorted, and `<`, `>`, `&` escaped (the
 * hash is taken over these bytes).
 */
function goJson(v: unknown): string {
  const sorted = (x: unknown): unknown =>
    Array.isArray(x)
      ? x.map(sorted)
      : x && typeof x === 'object'
        ? sortedObject(Object.fromEntries(Object.entries(x).map(([k, y]) => [k, sorted(y)])))
        : x;
  return JSON.stringify(sorted(v)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Kustomize's name suffix: sha256 of the ConfigMap's kind and data (a Secret's also its
 * type), the first ten hex digits with 0, 1, 3, a, e swapped for letters. Kustomize v5
 * hashes the name as empty (its lookup of `metadata/name` finds nothing), and so does this.
 */
export function nameHash(r: Resource): string {
  const fields: Record<string, unknown> =
    r.kind === 'Secret'
      ? { kind: 'Secret', type: r.type ?? '', name: '', data: r.data ?? '' }
      : { kind: 'ConfigMap', name: '', data: r.data ?? '' };
  const hex = createHash('sha256').update(goJson(fields)).digest('hex');
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => swap[c] ?? c).join('');
}

function suffixGeneratedNames(built: Built[]): void {
  const renamed = new Map<string, string>();
  for (const b of built) {
    if (!b.generatedName) continue;
    const name = `${b.generatedName}-${nameHash(b.resource)}`;
    b.resource.metadata.name = name;
    renamed.set(`${b.resource.kind}/${b.generatedName}`, name);
  }
  for (const { resource } of built) renameReferences(resource, renamed);
}

/** The pod spec of a workload or a pod, where generated names are referred to. */
function podSpecOf(r: Resource): JsonObject | undefined {
  const spec = r.spec as JsonObject | undefined;
  if (r.kind === 'Pod') return spec;
  const template = (spec?.jobTemplate as JsonObject | undefined)?.spec ?? spec;
  return ((template as JsonObject | undefined)?.template as JsonObject | undefined)?.spec as
    JsonObject | undefined;
}

function renameReferences(r: Resource, renamed: Map<string, string>): void {
  const pod = podSpecOf(r);
  if (!pod) return;
  const rename = (o: JsonObject | undefined, field: string, kind: 'ConfigMap' | 'Secret') => {
    const current = o?.[field];
    if (o && typeof current === 'string') o[field] = renamed.get(`${kind}/${current}`) ?? current;
  };
  const list = (v: unknown) => (Array.isArray(v) ? (v as JsonObject[]) : []);
  for (const v of list(pod.volumes)) {
    rename(v.configMap as JsonObject, 'name', 'ConfigMap');
    rename(v.secret as JsonObject, 'secretName', 'Secret');
    for (const s of list((v.projected as JsonObject | undefined)?.sources)) {
      rename(s.configMap as JsonObject, 'name', 'ConfigMap');
      rename(s.secret as JsonObject, 'name', 'Secret');
    }
  }
  for (const c of [...list(pod.initContainers), ...list(pod.containers)]) {
    for (const e of list(c.env)) {
      const from = e.valueFrom as JsonObject | undefined;
      rename(from?.configMapKeyRef as JsonObject, 'name', 'ConfigMap');
      rename(from?.secretKeyRef as JsonObject, 'name', 'Secret');
    }
    for (const e of list(c.envFrom)) {
      rename(e.configMapRef as JsonObject, 'name', 'ConfigMap');
      rename(e.secretRef as JsonObject, 'name', 'Secret');
    }
  }
  for (const s of list(pod.imagePullSecrets)) rename(s, 'name', 'Secret');
}

/** Kustomize's legacy order: these kinds first, in this order; then by group/version/kind; then name. */
const ORDER_FIRST = [
  'Namespace',
  'ResourceQuota',
  'StorageClass',
  'CustomResourceDefinition',
  'ServiceAccount',
  'PodSecurityPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'Endpoints',
  'Service',
  'LimitRange',
  'PriorityClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

function rank(kind: string): number {
  const first = ORDER_FIRST.indexOf(kind);
  if (first >= 0) return first - ORDER_FIRST.length;
  const last = ORDER_LAST.indexOf(kind);
  return last >= 0 ? last + 1 : 0;
}

/** `group_version_kind`, `~G` for the core group, as kustomize compares them. */
function gvk(r: Resource): string {
  const [group, version] = r.apiVersion.includes('/')
    ? r.apiVersion.split('/')
    : ['~G', r.apiVersion];
  return `${group}_${version}_${r.kind}`;
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function sortLikeKustomize(resources: Resource[]): Resource[] {
  return [...resources].sort(
    (a, b) =>
      rank(a.kind) - rank(b.kind) ||
      byteOrder(gvk(a), gvk(b)) ||
      byteOrder(String(a.metadata.namespace ?? ''), String(b.metadata.namespace ?? '')) ||
      byteOrder(String(a.metadata.name), String(b.metadata.name)),
  );
}
