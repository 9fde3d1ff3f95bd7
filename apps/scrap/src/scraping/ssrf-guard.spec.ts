import { ForbiddenTargetError, SsrfGuard } from './ssrf-guard';

describe('SsrfGuard', () => {
  const guard = new SsrfGuard();

  it.each([
    ['http://127.0.0.1/', /loopback/],
    ['http://localhost:8080/admin', /loopback/],
    ['http://10.1.2.3/', /private/],
    ['http://172.20.0.5/', /private/],
    ['http://192.168.1.1/', /private/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://[::1]/', /loopback/],
    ['http://[::ffff:127.0.0.1]/', /loopback/],
    ['http://[fd00:ec2::254]/', /unique local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://0.0.0.0/', /this network/],
  ])('refuses %s', async (url, reason) => {
    await expect(guard.check(url)).rejects.toThrow(reason);
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/', 'gopher://x/', 'javascript:alert(1)'])(
    'refuses the scheme of %s',
    async (url) => {
      await expect(guard.check(url)).rejects.toThrow(/scheme .* is not allowed/);
    },
  );

  it('refuses credentials in the URL and garbage', async () => {
    await expect(guard.check('http://user:pw@93.184.215.14/')).rejects.toThrow(/credentials/);
    await expect(guard.check('not a url')).rejects.toBeInstanceOf(ForbiddenTargetError);
  });

  it('lets a public address through and returns it for pinning', async () => {
    await expect(guard.check('https://93.184.215.14/page')).resolves.toMatchObject({
      address: '93.184.215.14',
      family: 4,
    });
  });

  it('allows private ranges only when configured', async () => {
    const allowing = new SsrfGuard({ allowCidrs: ['127.0.0.1/32'] });
    await expect(allowing.check('http://127.0.0.1:3000/')).resolves.toMatchObject({
      address: '127.0.0.1',
    });
    await expect(allowing.check('http://127.0.0.2/')).rejects.toThrow(/loopback/);
    await expect(allowing.check('http://10.0.0.1/')).rejects.toThrow(/private/);
  });
});
