import { RequestContext } from '@stayline/observability';
import { currentSession, isValidToken, mergeToken } from './consistency';

describe('consistency tokens', () => {
  it('accepts GTID lists and refuses anything else a client might send', () => {
    expect(isValidToken('0-1-42')).toBe(true);
    expect(isValidToken('0-1-42,1-2-3')).toBe(true);
    expect(isValidToken('')).toBe(false);
    expect(isValidToken("0-1-1' OR 1=1 --")).toBe(false);
    expect(isValidToken('0-1-1'.padEnd(600, '1'))).toBe(false);
  });

  it('merges a write into the held token, per domain', () => {
    expect(mergeToken(undefined, '0-1-5')).toBe('0-1-5');
    expect(mergeToken('0-1-9', '0-1-5')).toBe('0-1-9');
    expect(mergeToken('0-1-9,1-1-2', '0-2-10')).toBe('0-2-10,1-1-2');
    expect(mergeToken('garbage', '0-1-5')).toBe('0-1-5');
    expect(mergeToken('0-1-9', '')).toBe('0-1-9');
  });

  it('uses the running request context as the default session', () => {
    expect(currentSession()).toBeUndefined();
    RequestContext.run({ requestId: 'r1', consistencyToken: '0-1-3' }, () => {
      const session = currentSession();
      expect(session?.consistencyToken).toBe('0-1-3');
      if (session) session.consistencyToken = '0-1-4';
      expect(RequestContext.current()?.consistencyToken).toBe('0-1-4');
    });
  });
});
