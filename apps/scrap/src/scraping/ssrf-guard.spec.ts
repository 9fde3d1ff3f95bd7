import { FetchFailedError, ForbiddenTargetError } from './fetch-errors';
import { dnsResolver } from './resolve-host';
import { SsrfGuard } from './ssrf-guard';
import { FakeDns, startFakeDns } from '../testing/fake-dns';

/** Every address with the guard's verdict: `ok` (and where it connects), or the block that refuses it. */
const ADDRESSES: Array<[string, string]> = [
  // IPv4: public
  ['93.184.215.14', 'ok'],
  ['8.8.8.8', 'ok'],
  ['1.1.1.1', 'ok'],
  ['100.63.255.255', 'ok'],
  ['100.128.0.0', 'ok'],
  ['172.15.255.255', 'ok'],
  ['172.32.0.0', 'ok'],
  ['192.0.1.1', 'ok'],
  ['198.17.255.255', 'ok'],
  ['198.20.0.0', 'ok'],
  ['223.255.255.255', 'ok'],
  // IPv4: the special-purpose registry
  ['0.0.0.0', 'this network'],
  ['0.255.1.1', 'this network'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['100.64.0.1', 'shared address space'],
  ['100.127.255.254', 'shared address space'],
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['169.254.169.254', 'link-local'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.0.2.10', 'TEST-NET-1'],
  ['192.31.196.1', 'AS112'],
  ['192.52.193.1', 'AMT'],
  ['192.88.99.1', '6to4 relay'],
  ['192.168.1.1', 'private'],
  ['192.175.48.6', 'AS112'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['198.51.100.7', 'TEST-NET-2'],
  ['203.0.113.9', 'TEST-NET-3'],
  ['224.0.0.251', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.254', 'reserved'],
  ['255.255.255.255', 'limited broadcast'],
  // IPv6: global unicast
  ['2606:2800:21f:cb07:6820:80da:af6b:8b2c', 'ok'],
  ['2a00:1450:4001:82a::200e', 'ok'],
  ['2001:4860:4860::8888', 'ok'],
  ['2001:200::1', 'ok'],
  ['3ffe::1', 'ok'],
  // IPv6: outside 2000::/3 or a special block inside it
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['::7f00:1', 'IPv4-compatible'],
  ['::127.0.0.1', 'IPv4-compatible'],
  ['::8.8.8.8', 'IPv4-compatible'],
  ['::ffff:0:a00:1', 'IPv4-translated'],
  ['64:ff9b:1::a00:1', 'NAT64 local use'],
  ['100::1', 'discard-only'],
  ['2001::1', 'Teredo'],
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
  ['2001:1::1', 'IETF protocol assignments'],
  ['2001:2::1', 'benchmarking'],
  ['2001:3::1', 'AMT'],
  ['2001:4:112::1', 'AS112'],
  ['2001:10::1', 'ORCHID'],
  ['2001:20::1', 'ORCHIDv2'],
  ['2001:1ff::1', 'IETF protocol assignments'],
  ['2001:db8::1', 'documentation'],
  ['2001:db8:ffff::1', 'documentation'],
  ['2002:c000:204::1', '6to4'],
  ['2002:a00:1::1', '6to4'],
  ['2002:808:808::1', '6to4'],
  ['2620:4f:8000::1', 'AS112'],
  ['3fff::1', 'documentation'],
  ['4000::1', 'not global unicast'],
  ['5f00::1', 'SRv6'],
  ['1000::1', 'not global unicast'],
  ['fc00::1', 'unique local'],
  ['fd00:ec2::254', 'unique local'],
  ['fec0::1', 'site-local'],
  ['feff::1', 'site-local'],
  ['fe80::1', 'link-local'],
  ['febf::1', 'link-local'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  // IPv4 carried in IPv6: judged as the IPv4 address
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback'],
  ['::ffff:10.1.2.3', 'IPv4-mapped private'],
  ['::ffff:169.254.169.254', 'IPv4-mapped link-local'],
  ['::ffff:93.184.215.14', 'ok 93.184.215.14'],
  ['64:ff9b::7f00:1', 'NAT64 of loopback'],
  ['64:ff9b::10.0.0.1', 'NAT64 of private'],
  ['64:ff9b::192.168.0.1', 'NAT64 of private'],
  ['64:ff9b::93.184.215.14', 'ok 64:ff9b::93.184.215.14'],
  // not addresses at all
  ['fe80::1%eth0', 'not an IP address'],
  ['1.2.3', 'not an IP address'],
  ['256.1.1.1', 'not an IP address'],
  ['example.com', 'not an IP address'],
];

describe('SsrfGuard.verdict', () => {
  const guard = new SsrfGuard();

  it.each(ADDRESSES)('%s: %s', (address, expected) => {
    const v = guard.verdict(address);
    if (expected.startsWith('ok')) {
      expect(v.allowed).toBe(true);
      const connect = expected.slice(3);
      if (connect && v.allowed) expect(v.connect.address).toBe(connect);
    } else {
      expect(v.allowed).toBe(false);
      if (!v.allowed) expect(v.why).toContain(expected);
    }
  });

  it('connects to an IPv4-mapped address as the IPv4 address it is', () => {
    expect(guard.verdict('::ffff:93.184.215.14')).toEqual({
      allowed: true,
      connect: { address: '93.184.215.14', family: 4 },
    });
  });
});

describe('SsrfGuard.check', () => {
  const guard = new SsrfGuard({
    resolve: () => Promise.reject(new Error('no name should be resolved here')),
  });

  /** URL forms WHATWG parsing turns into the address they mean, which is then checked. */
  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://017700000001/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://0/', 'this network'],
    ['http://0.0.0.0/', 'this network'],
    ['http://167772161/', 'private'],
    ['http://0xa9.0xfe.0xa9.0xfe/', 'link-local'],
    ['http://169.254.43518/', 'link-local'],
    ['http://127.0.0.1./', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped loopback'],
    ['http://[::ffff:7f00:1]/', 'IPv4-mapped loopback'],
    ['http://[::127.0.0.1]/', 'IPv4-compatible'],
    ['http://[64:ff9b::10.0.0.1]/', 'NAT64 of private'],
    ['http://[fd00:ec2::254]/', 'unique local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[2001:db8::1]:8080/', 'documentation'],
    ['http://[2002:7f00:1::]/', '6to4'],
    ['http://localhost:8080/admin', 'loopback name'],
    ['http://LOCALHOST./', 'loopback name'],
    ['http://api.localhost/', 'loopback name'],
  ])('refuses %s (%s), saying only that it is not public', async (url, why) => {
    const err = (await guard.check(url).catch((e: unknown) => e)) as ForbiddenTargetError;
    expect(err).toBeInstanceOf(ForbiddenTargetError);
    expect(err.reason).toBe('blocked_address');
    expect(err.message).toBe("the URL's host is not a public address");
    expect(err.detail).toContain(why);
  });

  it.each([
    ['http://8.8.8.8/', '8.8.8.8', 4],
    ['http://134744072/', '8.8.8.8', 4],
    ['http://0x8.0x8.0x8.0x8/', '8.8.8.8', 4],
    ['https://[2001:4860:4860::8888]/dns', '2001:4860:4860::8888', 6],
    ['http://[::ffff:8.8.8.8]/', '8.8.8.8', 4],
  ])('lets %s through, to connect to %s', async (url, address, family) => {
    await expect(guard.check(url)).resolves.toMatchObject({ addresses: [{ address, family }] });
  });

  it('does not parse bracketed IPv6 with a zone id: the URL is invalid', async () => {
    for (const url of ['http://[fe80::1%25eth0]/', 'http://[fe80::1%eth0]/'])
      await expect(guard.check(url)).rejects.toMatchObject({ reason: 'invalid_url' });
  });

  it.each(['file:///etc/passwd', 'ftp://example.com/', 'gopher://x/', 'javascript:alert(1)'])(
    'refuses the scheme of %s',
    async (url) => {
      await expect(guard.check(url)).rejects.toMatchObject({
        reason: 'scheme_not_allowed',
        message: expect.stringMatching(/scheme .* is not allowed/),
      });
    },
  );

  it('refuses credentials in the URL and garbage', async () => {
    await expect(guard.check('http://user:pw@93.184.215.14/')).rejects.toMatchObject({
      reason: 'credentials_in_url',
    });
    await expect(guard.check('not a url')).rejects.toMatchObject({ reason: 'invalid_url' });
  });

  it('allows special ranges only when configured', async () => {
    const allowing = new SsrfGuard({ allowCidrs: ['127.0.0.1/32'] });
    await expect(allowing.check('http://127.0.0.1:3000/')).resolves.toMatchObject({
      addresses: [{ address: '127.0.0.1', family: 4 }],
    });
    await expect(allowing.check('http://[::ffff:127.0.0.1]/')).resolves.toMatchObject({
      addresses: [{ address: '127.0.0.1', family: 4 }],
    });
    await expect(allowing.check('http://127.0.0.2/')).rejects.toMatchObject({
      detail: expect.stringContaining('loopback'),
    });
    await expect(allowing.check('http://10.0.0.1/')).rejects.toMatchObject({
      detail: expect.stringContaining('private'),
    });
  });
});

describe('SsrfGuard.check on names (a local DNS server)', () => {
  let dns: FakeDns;
  let guard: SsrfGuard;

  beforeAll(async () => {
    dns = await startFakeDns({
      'public.test': { A: ['93.184.215.14'], AAAA: ['2606:2800:21f:cb07:6820:80da:af6b:8b2c'] },
      'v6only.test': { AAAA: ['2a00:1450:4001:82a::200e'] },
      'internal.test': { A: ['10.20.30.40'] },
      'mixed.test': { A: ['93.184.215.14', '127.0.0.1'] },
      'mixed6.test': { A: ['93.184.215.14'], AAAA: ['fd12:3456::1'] },
      'mapped.test': { AAAA: ['::ffff:192.168.0.10'] },
      'silent.test': 'silent',
    });
    guard = new SsrfGuard({ resolve: dnsResolver({ servers: [dns.server] }) });
  });
  afterAll(() => dns.close());

  it('checks every address of a name, of both families, and returns them all to connect to', async () => {
    const target = await guard.check('https://public.test/page');
    expect(target.addresses).toEqual([
      { address: '93.184.215.14', family: 4 },
      { address: '2606:2800:21f:cb07:6820:80da:af6b:8b2c', family: 6 },
    ]);
    await expect(guard.check('http://v6only.test/')).resolves.toMatchObject({
      addresses: [{ family: 6 }],
    });
  });

  it.each([
    ['http://internal.test/', 'private'],
    ['http://mixed.test/', 'loopback'],
    ['http://mixed6.test/', 'unique local'],
    ['http://mapped.test/', 'IPv4-mapped private'],
  ])('refuses %s when any address is not public, without naming the address', async (url, why) => {
    const err = (await guard.check(url).catch((e: unknown) => e)) as ForbiddenTargetError;
    expect(err).toMatchObject({ reason: 'blocked_address' });
    expect(err.detail).toContain(why);
    expect(err.message).not.toMatch(/\d+\.\d+\.\d+\.\d+|fd12|::/);
  });

  it('fails a name that does not exist as dns_failed', async () => {
    await expect(guard.check('http://nowhere.test/')).rejects.toMatchObject({
      reason: 'dns_failed',
      message: "the URL's host name does not exist",
    });
  });

  it('gives up on a resolver that never answers at the deadline', async () => {
    const t0 = Date.now();
    const err = await guard.check('http://silent.test/', Date.now() + 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchFailedError);
    expect(err).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(800);
  });
});
