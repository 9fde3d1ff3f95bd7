import fs from 'node:fs';
import path from 'node:path';

/** deploy/kubernetes: the base, the overlays, and this renderer. */
export const KUBERNETES_DIR = path.resolve(__dirname, '../..');
export const BASE_DIR = path.join(KUBERNETES_DIR, 'base');
export const OVERLAYS_DIR = path.join(KUBERNETES_DIR, 'overlays');

/** The overlays, by directory name. */
export function overlayNames(): string[] {
  return fs
    .readdirSync(OVERLAYS_DIR)
    .filter((d) => fs.existsSync(path.join(OVERLAYS_DIR, d, 'kustomization.yaml')))
    .sort();
}
