import { nextRate, RateMeter } from './rates';

const STARTED = '2026-12-06T19:00:00.000Z';

describe('RateMeter: requests per second from two polls', () => {
  const meter = () => new RateMeter(500);

  it('has no rate on the first poll, then the difference over the time between polls', () => {
    const m = meter();
    m.read('reservation-1', STARTED, { completed: 100, failed: 2, atMs: 10_000 });
    expect(m.rate('reservation-1')).toEqual({});
    m.read('reservation-1', STARTED, { completed: 150, failed: 3, atMs: 11_000 });
    expect(m.rate('reservation-1')).toEqual({ requestsPerS: 50, errorsPerS: 1 });
    // 1 request in 1.5 s: one decimal
    m.read('reservation-1', STARTED, { completed: 151, failed: 3, atMs: 12_500 });
    expect(m.rate('reservation-1')).toEqual({ requestsPerS: 0.7, errorsPerS: 0 });
    expect(m.rate('payment-1')).toEqual({});
  });

  it('starts over when the instance restarted: a lower counter or a new start time, never a negative rate', () => {
    const m = meter();
    m.read('scrap-1', STARTED, { completed: 900, failed: 9, atMs: 0 });
    m.read('scrap-1', STARTED, { completed: 1_000, failed: 9, atMs: 1_000 });
    expect(m.rate('scrap-1')).toEqual({ requestsPerS: 100, errorsPerS: 0 });
    // restarted under the same id and start time reported late: the counter went down
    m.read('scrap-1', STARTED, { completed: 4, failed: 0, atMs: 2_000 });
    expect(m.rate('scrap-1')).toEqual({});
    m.read('scrap-1', STARTED, { completed: 24, failed: 0, atMs: 3_000 });
    expect(m.rate('scrap-1')).toEqual({ requestsPerS: 20, errorsPerS: 0 });
    // a new start time: a new run, even with a higher counter
    m.read('scrap-1', '2026-12-06T19:30:00.000Z', { completed: 30, failed: 0, atMs: 4_000 });
    expect(m.rate('scrap-1')).toEqual({});
  });

  it('shows no rate for an instance that does not report the counters (an older build), nor errors without `failed`', () => {
    const m = meter();
    m.read('payment-1', STARTED, { atMs: 0 });
    m.read('payment-1', STARTED, { atMs: 1_000 });
    expect(m.rate('payment-1')).toEqual({});
    // it had counters, then answered without (a failed probe): the rate goes, the next reading starts over
    m.read('payment-1', STARTED, { completed: 10, atMs: 2_000 });
    m.read('payment-1', STARTED, { completed: 20, atMs: 3_000 });
    expect(m.rate('payment-1')).toEqual({ requestsPerS: 10, errorsPerS: undefined });
    m.read('payment-1', STARTED, { atMs: 4_000 });
    expect(m.rate('payment-1')).toEqual({});
  });

  it('keeps the baseline and its rate for a reading too close to it (a new instance probed twice)', () => {
    const m = meter();
    m.read('scrap-2', STARTED, { completed: 0, failed: 0, atMs: 0 });
    m.read('scrap-2', STARTED, { completed: 10, failed: 0, atMs: 1_000 });
    m.read('scrap-2', STARTED, { completed: 11, failed: 0, atMs: 1_050 });
    expect(m.rate('scrap-2')).toEqual({ requestsPerS: 10, errorsPerS: 0 });
    // the next rate is taken from the kept baseline, over the whole interval
    m.read('scrap-2', STARTED, { completed: 30, failed: 0, atMs: 2_000 });
    expect(m.rate('scrap-2')).toEqual({ requestsPerS: 20, errorsPerS: 0 });
  });

  it('forgets an instance that left', () => {
    const m = meter();
    m.read('scrap-1', STARTED, { completed: 0, atMs: 0 });
    m.read('scrap-1', STARTED, { completed: 5, atMs: 1_000 });
    m.forget('scrap-1');
    expect(m.rate('scrap-1')).toEqual({});
    expect(nextRate(undefined, STARTED, { completed: 5, atMs: 0 }, 500)?.rate).toEqual({});
  });
});
