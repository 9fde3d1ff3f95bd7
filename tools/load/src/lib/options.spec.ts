import {
  DEFAULT_MIX,
  isLoopbackHost,
  LIMITS,
  OptionError,
  parseMix,
  parseOptions,
  parseUrl,
} from './options';

const refused = (argv: string[]) => {
  try {
    parseOptions(argv, {});
  } catch (err) {
    expect(err).toBeInstanceOf(OptionError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
};

describe('parseOptions', () => {
  it('defaults: a bounded run on the local gateway with the documented mix', () => {
    expect(parseOptions([], {})).toEqual({
      rate: LIMITS.rate.default,
      durationS: 30,
      maxRequests: undefined,
      mix: DEFAULT_MIX,
      url: 'http://127.0.0.1:8080',
      users: 2,
      connections: 256,
      timeoutS: 10,
      json: false,
      keep: false,
      help: false,
    });
  });

  it('takes --name value and --name=value, and the gateway port of the commands', () => {
    const o = parseOptions(
      ['--rate', '50', '--duration=20', '--max-requests', '500', '--users=3', '--json', '--keep'],
      { STAYLINE_GATEWAY_PORT: '18080' },
    );
    expect(o).toMatchObject({
      rate: 50,
      durationS: 20,
      maxRequests: 500,
      users: 3,
      json: true,
      keep: true,
      url: 'http://127.0.0.1:18080',
    });
  });

  it.each([
    [['--rate', '0'], '--rate: must be from 0.1 to 5000, got 0'],
    [['--rate', 'fast'], '--rate: expected a number, got "fast"'],
    [['--rate', '6000'], '--rate: must be from 0.1 to 5000, got 6000'],
    [['--duration', '601'], '--duration: must be from 0.1 to 600, got 601'],
    [['--duration', '-1'], '--duration: must be from 0.1 to 600, got -1'],
    [['--max-requests', '2.5'], '--max-requests: expected a whole number, got "2.5"'],
    [['--users', '0'], '--users: must be from 1 to 1000, got 0'],
    [['--connections', ''], '--connections: expected a whole number, got ""'],
    [['--rate'], '--rate needs a value'],
    [['--rate', '5', '--rate', '6'], '--rate is given twice'],
    [['--json=yes'], '--json takes no value'],
    [['--rps', '5'], 'unknown option "--rps" (npm run load -- --help lists them)'],
  ])('refuses %j: %s', (argv, message) => {
    expect(refused(argv)).toBe(message);
  });
});

describe('parseMix', () => {
  it('reads the weights; a kind left out weighs 0', () => {
    expect(parseMix('browse=60,bookings=10,book=20,cancel=10')).toEqual(DEFAULT_MIX);
    expect(parseMix(' browse = 3 , book=1.5')).toEqual({
      browse: 3,
      bookings: 0,
      book: 1.5,
      cancel: 0,
    });
  });

  it.each([
    ['browse=60,pay=10', '--mix: unknown kind "pay"; the kinds are browse, bookings, book, cancel'],
    [
      'browse:60',
      '--mix: expected kind=weight pairs separated by commas, e.g. browse=60,bookings=10,book=20,cancel=10; got "browse:60"',
    ],
    ['browse=60,browse=10', '--mix: browse is given twice'],
    ['book=-1', '--mix: the weight of book must be a number >= 0, got "-1"'],
    ['book=', '--mix: the weight of book must be a number >= 0, got ""'],
    ['book=0,cancel=0', '--mix: every weight is 0; give at least one kind a weight above 0'],
  ])('refuses %s', (text, message) => {
    expect(() => parseMix(text)).toThrow(new OptionError(message));
  });
});

describe('the gateway URL: loopback only', () => {
  it.each(['localhost', '127.0.0.1', '127.3.2.1', '::1', '[::1]'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });

  it.each([
    '10.0.0.1',
    '128.0.0.1',
    '127.0.0.256',
    'example.com',
    'localhost.example.com',
    '0.0.0.0',
  ])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });

  it('keeps the origin of a loopback URL', () => {
    expect(parseUrl('http://localhost:8080/')).toBe('http://localhost:8080');
    expect(parseUrl('http://[::1]:8080')).toBe('http://[::1]:8080');
  });

  it.each([
    [
      'http://192.168.1.10:8080',
      '--url: 192.168.1.10 is not a loopback address; the load generator only targets this machine (localhost, 127.0.0.0/8, ::1)',
    ],
    [
      'https://127.0.0.1:8443',
      "--url: only http:// is supported (the stack's gateway), got https:",
    ],
    ['127.0.0.1:8080', '--url: not a URL: "127.0.0.1:8080" (e.g. http://127.0.0.1:8080)'],
    ['not a url', '--url: not a URL: "not a url" (e.g. http://127.0.0.1:8080)'],
    [
      'http://127.0.0.1:8080/api',
      '--url: give the gateway\'s origin only, e.g. http://127.0.0.1:8080 (got "http://127.0.0.1:8080/api")',
    ],
  ])('refuses %s', (url, message) => {
    expect(() => parseUrl(url)).toThrow(new OptionError(message));
  });
});
