import { QueryFailedError } from 'typeorm';
import { isNodeFailure, QueryTimeoutError, TopologyChangedError } from './errors';

function driverErr(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('isNodeFailure', () => {
  it('treats lost connections, timeouts, names that stopped resolving, read-only refusals and closed pools as node failures', () => {
    for (const code of [
      'ECONNREFUSED',
      'ENOTFOUND', // a stopped container's name
      'EAI_AGAIN',
      'ECONNRESET',
      'PROTOCOL_CONNECTION_LOST',
      'ETIMEDOUT',
      'ER_OPTION_PREVENTS_STATEMENT',
    ]) {
      expect(isNodeFailure(driverErr(code))).toBe(true);
    }
    expect(isNodeFailure(new Error('Pool is closed.'))).toBe(true);
    expect(isNodeFailure(new QueryTimeoutError('mariadb-2', 500))).toBe(true);
    expect(isNodeFailure(new TopologyChangedError('mariadb-1'))).toBe(true);
  });

  it('looks under TypeORM QueryFailedError for the driver error', () => {
    expect(isNodeFailure(new QueryFailedError('SELECT 1', [], driverErr('ECONNRESET')))).toBe(true);
    expect(isNodeFailure(new QueryFailedError('SELEC 1', [], driverErr('ER_PARSE_ERROR')))).toBe(
      false,
    );
  });

  it('leaves query errors to the caller', () => {
    expect(isNodeFailure(driverErr('ER_DUP_ENTRY'))).toBe(false);
    expect(isNodeFailure(driverErr('ER_NO_SUCH_TABLE'))).toBe(false);
    expect(isNodeFailure(new TypeError('x is undefined'))).toBe(false);
    expect(isNodeFailure(undefined)).toBe(false);
  });
});
