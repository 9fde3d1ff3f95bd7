import { MissingBinaryError, which } from './binaries';

describe('binaries', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('names the Debian package to install when a binary is missing', () => {
    const err = new MissingBinaryError('redis-sentinel');
    expect(err.message).toContain("'redis-sentinel' was not found");
    expect(err.message).toContain("package 'redis-sentinel'");
    expect(new MissingBinaryError('mariadbd').message).toContain("package 'mariadb-server'");
    expect(new MissingBinaryError('etcd').message).toContain("package 'etcd-server'");
  });

  it('finds an installed binary by absolute path', () => {
    expect(which('nginx')).toMatch(/^\/.*\/nginx$/);
  });
});
