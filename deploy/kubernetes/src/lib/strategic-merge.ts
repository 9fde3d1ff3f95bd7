/**
 * Strategic merge patches, the part kustomize applies to the fields stayline's overlays
 * patch: maps merge key by key (`null` removes a key), lists of objects with a merge key
 * merge item by item (`$patch: delete` removes one), every other list is replaced. The
 * merged list holds the patch's items first, in the patch's order, then the items the
 * patch did not name, in their order: what kustomize v5 prints.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * The merge key of a list, by field name, as the Kubernetes API declares it
 * (`x-kubernetes-patch-merge-key`). `ports` depends on where it is: a container's
 * (`containerPort`) or a Service's (`port`).
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  imagePullSecrets: 'name',
  volumeClaimTemplates: 'name',
};

/** Lists the API merges by a compound key (kustomize keeps items apart when any part differs): not patched here. */
const REFUSED_LISTS = new Set(['topologySpreadConstraints']);

function mergeKeyOf(field: string, items: Json[]): string | undefined {
  if (field === 'ports') {
    const first = items.find(isObject);
    return first && 'containerPort' in first ? 'containerPort' : 'port';
  }
  return MERGE_KEYS[field];
}

export const isObject = (v: Json | undefined): v is JsonObject =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const clone = <T extends Json>(v: T): T => structuredClone(v);

/** `$patch: delete` on a whole document: the resource is removed. */
export function deletesResource(patch: JsonObject): boolean {
  return patch.$patch === 'delete';
}

/** The target with the patch applied; neither argument is changed. */
export function strategicMerge(target: JsonObject, patch: JsonObject): JsonObject {
  return mergeMaps(target, patch, []);
}

function mergeMaps(target: JsonObject, patch: JsonObject, path: string[]): JsonObject {
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return clone(rest);
  }
  if (patch.$patch !== undefined) throw new Error(`${where(path)}: unsupported $patch`);
  const out = clone(target);
  for (const [key, p] of Object.entries(patch)) {
    if (p === null) {
      delete out[key];
      continue;
    }
    const t = out[key];
    if (isObject(p) && isObject(t)) out[key] = mergeMaps(t, p, [...path, key]);
    else if (Array.isArray(p) && Array.isArray(t)) out[key] = mergeLists(key, t, p, [...path, key]);
    else out[key] = withoutDirectives(p, [...path, key]);
  }
  return out;
}

function mergeLists(field: string, target: Json[], patch: Json[], path: string[]): Json[] {
  if (REFUSED_LISTS.has(field))
    throw new Error(`${where(path)}: patching ${field} is not supported (replace the resource)`);
  const key = mergeKeyOf(field, [...patch, ...target]);
  if (!key || !patch.every(isObject) || !target.every(isObject))
    return withoutDirectives(patch, path) as Json[];
  const objects = target as JsonObject[];
  const named = (item: JsonObject) => {
    const id = item[key];
    if (id === undefined) throw new Error(`${where(path)}: a patch item without its ${key}`);
    return id;
  };
  const touched = new Set<Json>();
  const merged: Json[] = [];
  for (const item of patch as JsonObject[]) {
    const id = named(item);
    touched.add(id);
    const existing = objects.find((o) => o[key] === id);
    if (item.$patch === 'delete') continue;
    merged.push(
      existing ? mergeMaps(existing, item, [...path, String(id)]) : withoutDirectives(item, path),
    );
  }
  return [...merged, ...objects.filter((o) => !touched.has(o[key])).map(clone)];
}

/** A patch value added as it is: a `$patch` directive inside it has nothing to act on. */
function withoutDirectives(v: Json, path: string[]): Json {
  if (Array.isArray(v)) return v.map((x) => withoutDirectives(x, path));
  if (!isObject(v)) return v;
  if ('$patch' in v && v.$patch !== 'replace')
    throw new Error(`${where(path)}: $patch ${String(v.$patch)} on something the target lacks`);
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k]) => k !== '$patch')
      .map(([k, x]) => [k, withoutDirectives(x, [...path, k])]),
  );
}

const where = (path: string[]) => path.join('.') || '(document)';
