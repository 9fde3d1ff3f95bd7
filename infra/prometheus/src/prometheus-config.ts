/**
 * Writes the Prometheus configuration of the containerised stacks, from the generator the
 * native stack uses (`composePrometheusConfig`, `kubernetesPrometheusConfig`:
 * tools/stack-kit/src/lib/prometheus.ts): only the addresses differ, so no second YAML is
 * kept by hand (docs/observability.md).
 *
 *   prometheus-config.js compose --out DIR
 *       DIR/prometheus.yml for docker-compose.yml's names (the `prometheus-config` job
 *       writes it into the volume the `prometheus` container mounts read-only; the rules
 *       are in the image, infra/docker/prometheus/Dockerfile).
 *   node scripts/run.cjs infra/prometheus/src/prometheus-config.ts kubernetes --out deploy/kubernetes/base/prometheus
 *       DIR/prometheus.yml for the Kubernetes names and DIR/stayline.rules.yml, a copy of
 *       infra/prometheus/rules/stayline.rules.yml: the two files of the `prometheus`
 *       ConfigMap (deploy/kubernetes/src/manifests.spec.ts fails while they differ).
 */
import fs from 'node:fs';
import path from 'node:path';
import { prometheusFiles } from '@stayline/stack-kit';

function main(argv: string[]): number {
  const [platform, flag, out, ...rest] = argv;
  if (
    (platform !== 'compose' && platform !== 'kubernetes') ||
    flag !== '--out' ||
    !out ||
    rest.length
  ) {
    process.stderr.write('usage: prometheus-config <compose|kubernetes> --out DIR\n');
    return 2;
  }
  fs.mkdirSync(out, { recursive: true });
  for (const [name, text] of Object.entries(prometheusFiles(platform))) {
    const file = path.join(out, name);
    fs.writeFileSync(file, text, { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    process.stderr.write(`[prometheus-config] wrote ${file}\n`);
  }
  return 0;
}

// run as `node prometheus-config.js` (the job) or through scripts/run.cjs, not when imported
if (require.main === module || process.argv[1] === __filename)
  process.exitCode = main(process.argv.slice(2));
