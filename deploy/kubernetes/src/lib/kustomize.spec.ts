/**
 * The renderer against kubectl's own Kustomize: every overlay rendered byte for byte as
 * `kubectl kustomize` renders it. `kubectl-output/<overlay>.yaml` is kubectl's output,
 * kept so the equality is checked on a machine without kubectl too; where kubectl is
 * installed (some distributions ship several versions side by side, `kubectl.1.27`
 * ...), each one is checked against it as well. After a change to the manifests:
 *   kubectl kustomize deploy/kubernetes/overlays/<overlay> > deploy/kubernetes/src/lib/kubectl-output/<overlay>.yaml
 * Then the parts on their own: strategic merge, the name hash (kustomize's own test
 * vectors), the YAML styles, and what is refused.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OVERLAYS_DIR, overlayNames } from './layout';
import { build, nameHash, render, Resource } from './kustomize';
import { JsonObject, strategicMerge } from './strategic-merge';
import { toYaml } from './yaml-output';

/** Every kubectl here: the one on PATH, and the versioned ones beside it. */
function kubectls(): string[] {
  const found = new Set<string>();
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const bin = path.join(dir, 'kubectl');
    if (!fs.existsSync(bin)) continue;
    const real = fs.realpathSync(bin);
    found.add(bin);
    for (const f of fs.readdirSync(path.dirname(real)))
      if (/^kubectl\.\d+\.\d+$/.test(f)) found.add(path.join(path.dirname(real), f));
  }
  return [...found].sort();
}

const KUBECTL_OUTPUT = path.join(__dirname, 'kubectl-output');
const kubectlOutput = (overlay: string) =>
  fs.readFileSync(path.join(KUBECTL_OUTPUT, `${overlay}.yaml`), 'utf8');
const BINS = kubectls();

describe('the renderer', () => {
  it('prints every overlay exactly as kubectl kustomize printed it', () => {
    const overlays = overlayNames();
    expect(overlays).toEqual(['dev', 'ha']);
    expect(fs.readdirSync(KUBECTL_OUTPUT).sort()).toEqual(overlays.map((o) => `${o}.yaml`));
    for (const overlay of overlays) {
      const ours = render(path.join(OVERLAYS_DIR, overlay));
      expect({ overlay, same: ours === kubectlOutput(overlay) }).toEqual({ overlay, same: true });
    }
  });

  // reported as skipped (not passed) where no kubectl is installed
  (BINS.length ? it : it.skip)(
    `prints them as each kubectl here does, today (${BINS.length ? BINS.map((b) => path.basename(b)).join(', ') : 'no kubectl here'})`,
    () => {
      for (const overlay of overlayNames()) {
        for (const bin of BINS) {
          const theirs = execFileSync(bin, ['kustomize', path.join(OVERLAYS_DIR, overlay)], {
            encoding: 'utf8',
          });
          expect({ overlay, bin, same: theirs === kubectlOutput(overlay) }).toEqual({
            overlay,
            bin,
            same: true,
          });
        }
      }
    },
  );

  it('merges lists by their merge key, the patch’s items first, and removes what `$patch: delete` names', () => {
    const target: JsonObject = {
      spec: {
        containers: [
          { name: 'a', image: 'x', args: ['--one'], env: [{ name: 'X', value: '1' }] },
          { name: 'b', image: 'y' },
        ],
        volumes: [{ name: 'v1' }, { name: 'v2' }],
      },
    };
    const patch: JsonObject = {
      spec: {
        containers: [
          { name: 'b', image: 'y2' },
          { name: 'a', args: ['--two'], env: [{ name: 'Y', value: '2' }] },
        ],
        volumes: [{ name: 'v2', $patch: 'delete' }],
      },
    };
    const before = JSON.stringify([target, patch]);
    expect(strategicMerge(target, patch)).toEqual({
      spec: {
        containers: [
          { name: 'b', image: 'y2' },
          {
            name: 'a',
            image: 'x',
            args: ['--two'],
            env: [
              { name: 'Y', value: '2' },
              { name: 'X', value: '1' },
            ],
          },
        ],
        volumes: [{ name: 'v1' }],
      },
    });
    // neither argument is changed
    expect(JSON.stringify([target, patch])).toBe(before);
  });

  it('names generated ConfigMaps and Secrets with kustomize’s hash (its own test vectors)', () => {
    const cm = (data: Record<string, string>) =>
      ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data }) as Resource;
    expect(nameHash(cm({ one: '' }))).toBe('9g67k2htb6');
    expect(
      nameHash({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'my-type',
        metadata: { name: 'x' },
        data: { one: '' },
      } as Resource),
    ).toBe('74bd68bm66');
  });

  it('quotes, folds and blocks strings as go-yaml does', () => {
    const text = toYaml({
      a: '3000',
      b: 'no',
      c: 'a: b',
      d: '',
      e: '0.0.0.0',
      f: 'line1\nline2\n',
      g: 'x'.repeat(10) + ' word'.repeat(16),
      h: '--flag=1',
      i: '*/5',
      j: 365,
      k: [],
      l: { m: [{ name: 'o', p: true }] },
    });
    expect(text).toBe(
      [
        'a: "3000"',
        'b: "no"',
        "c: 'a: b'",
        'd: ""',
        'e: 0.0.0.0',
        'f: |',
        '  line1',
        '  line2',
        'g: xxxxxxxxxx word word word word word word word word word word word word word word',
        '  word word',
        'h: --flag=1',
        "i: '*/5'",
        'j: 365',
        'k: []',
        'l:',
        '  m:',
        '  - name: o',
        '    p: true',
        '',
      ].join('\n'),
    );
  });

  describe('refuses', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-kustomize-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
    const write = (file: string, text: string) => fs.writeFileSync(path.join(dir, file), text);

    it('a kustomization field it does not implement, by name', () => {
      write('kustomization.yaml', 'resources: []\nnamePrefix: x-\n');
      expect(() => build(dir)).toThrow(/"namePrefix" is not supported/);
    });

    it('a number with a leading zero, which kubectl reads as octal', () => {
      write('kustomization.yaml', 'resources: [cm.yaml]\n');
      write('cm.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  mode: 0555\n');
      expect(() => build(dir)).toThrow(/reads as octal/);
    });

    it('a patch whose target does not exist', () => {
      write('kustomization.yaml', 'resources: []\npatches:\n  - path: p.yaml\n');
      write('p.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: nowhere\n');
      expect(() => build(dir)).toThrow(/which no resource is/);
    });

    it('a patch file of several documents, which kubectl before 1.31 cannot read', () => {
      write('kustomization.yaml', 'resources: [s.yaml]\npatches:\n  - path: p.yaml\n');
      const service = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n';
      write('s.yaml', service);
      write('p.yaml', `${service}---\n${service}`);
      expect(() => build(dir)).toThrow(/2 documents/);
    });

    it('a string it could not print as kubectl would', () => {
      expect(() => toYaml({ a: 'tab\there' })).toThrow(/unsupported character/);
      expect(() => toYaml({ a: '\n leading' })).toThrow(/literal block/);
    });
  });
});
