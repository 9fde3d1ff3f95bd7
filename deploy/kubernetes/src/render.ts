/**
 * `npm run k8s:render -- <overlay>`: the overlay's manifests as YAML on stdout, the same
 * bytes `kubectl kustomize deploy/kubernetes/overlays/<overlay>` prints (docs/kubernetes.md).
 *   npm run -s k8s:render -- ha | kubectl apply -n stayline -f -
 * <overlay> is an overlay's name (`dev`, `ha`) or a directory holding a kustomization.yaml.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OVERLAYS_DIR, overlayNames } from './lib/layout';
import { render } from './lib/kustomize';

function main(argv: string[]): number {
  const [overlay, ...rest] = argv;
  if (!overlay || rest.length) {
    process.stderr.write(
      `usage: npm run -s k8s:render -- <overlay>   (overlays: ${overlayNames().join(', ')})\n`,
    );
    return 2;
  }
  const named = path.join(OVERLAYS_DIR, overlay);
  const dir = fs.existsSync(named) ? named : path.resolve(overlay);
  if (!fs.existsSync(dir)) {
    process.stderr.write(`no overlay "${overlay}" (overlays: ${overlayNames().join(', ')})\n`);
    return 2;
  }
  process.stdout.write(render(dir));
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`k8s:render: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
