/**
 * Fixture process: one candidate of an etcd leader election (the etcd twin of
 * testing/candidate.ts). While it leads it writes its id to a fenced resource
 * every 50 ms with its token, and prints one JSON line per event.
 *   run.cjs etcd-candidate.fixture.ts --etcd <url,url,url> --election demo --id c1 [--unsafe 1]
 * --unsafe 1 acts on the token captured when elected (not `election.token`,
 * which checks the local deadline): the resource must refuse it.
 */
import { parseEtcdEndpoints } from './etcd-target';
import { EtcdCoordinationBackend } from './etcd.coordination-backend';

const argv = process.argv.slice(2);
const arg = (name: string) => argv[argv.indexOf(`--${name}`) + 1];
const id = arg('id');
const unsafe = argv.includes('--unsafe');
const report = (event: string, extra: object = {}) =>
  console.log(JSON.stringify({ event, id, at: Date.now(), ...extra }));

async function main(): Promise<void> {
  const backend = new EtcdCoordinationBackend({ etcd: parseEtcdEndpoints(arg('etcd')) });
  const election = backend.election(arg('election'), { candidateId: id });
  const resource = backend.fencedResource(arg('election'));
  let captured: number | undefined;
  election.on('elected', (token) => {
    captured = token;
    report('elected', { token });
  });
  election.on('deposed', (token, reason) => {
    captured = undefined;
    report('deposed', { token, reason });
  });
  setInterval(() => {
    const token = unsafe ? captured : election.token;
    if (token === undefined) return;
    resource.write(token, id).then(
      (ok) => ok || report('refused', { token }),
      (err: Error) => report('write-failed', { token, err: err.message }),
    );
  }, 50);
  process.once('SIGTERM', () => {
    void election
      .stop()
      .finally(() => backend.close())
      .finally(() => process.exit(0));
  });
  await election.start();
  report('started');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
