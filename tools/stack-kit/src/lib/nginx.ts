import path from 'node:path';
import { NginxOptions, writeNginxConfig } from '@stayline/gateway';
import { which } from './binaries';
import { ProcessSpec } from './process';

/** The gateway's nginx as a process of the stack, on the configuration `@stayline/gateway` renders. */
export function nginxSpec(o: NginxOptions): ProcessSpec {
  const conf = writeNginxConfig(o);
  return {
    command: which('nginx'),
    args: ['-p', o.prefix, '-c', conf, '-e', path.join(o.prefix, 'error.log')],
    logFile: path.join(o.prefix, 'stdout.log'),
  };
}
