import { execFile } from 'node:child_process';
import type { NodeAddress } from '@stayline/database';
import { Stonith, StonithOutcome } from './stonith';

/**
 * STONITH by a command of the operator's choice, run by `sh -c` with
 * NODE_NAME, NODE_HOST and NODE_PORT set: `docker kill stayline-$NODE_NAME-1`
 * under compose, a cloud CLI's instance stop in production. Exit 0 means the
 * node is stopped for good.
 */
export class CommandStonith implements Stonith {
  readonly kind = 'command';

  constructor(
    private readonly command: string,
    private readonly timeoutMs = 15_000,
  ) {}

  stop(node: NodeAddress): Promise<StonithOutcome> {
    const env = {
      ...process.env,
      NODE_NAME: node.name,
      NODE_HOST: node.host,
      NODE_PORT: String(node.port),
    };
    return new Promise((resolve, reject) => {
      execFile(
        'sh',
        ['-c', this.command],
        { env, timeout: this.timeoutMs },
        (err, stdout, stderr) => {
          if (err)
            reject(new Error(`STONITH command failed for ${node.name}: ${stderr || err.message}`));
          else resolve({ result: 'stopped', detail: `command: ${stdout.trim().slice(0, 200)}` });
        },
      );
    });
  }
}
