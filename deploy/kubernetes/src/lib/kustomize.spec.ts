/**
 * The renderer against kubectl's own Kustomize: every overlay rendered byte for byte as
 * each kubectl on this machine renders it (Debian's `kubectl` package ships several
 * versions side by side). Without any kubectl this fails, on purpose: the equality is the
 * renderer's whole contract. Then the parts on their own: strategic merge, the name hash
 * (kustomize's own test vectors), the YAML styles, and what is refused.
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

describe('the renderer', () => {
  it('prints every overlay exactly as each kubectl on this machine does (kubectl kustomize)', () => {
    const bins = kubectls();
    expect({ kubectl: bins.length > 0 }).toEqual({ kubectl: true });
    const overlays = overlayNames();
    expect(overlays).toEqual(['dev', 'ha']);
    for (const overlay of overlays) {
      const ours = render(path.join(OVERLAYS_DIR, overlay));
      for (const bin of bins) {
        const theirs = execFileSync(bin, ['kustomize', path.join(OVERLAYS_DIR, overlay)], {
          encoding: 'utf8',
        });
        expect({ overlay, bin, same: ours === theirs }).toEqual({ overlay, bin, same: true });
      }
    }
  });

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
