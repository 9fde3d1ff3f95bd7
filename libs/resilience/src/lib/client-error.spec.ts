import { BadRequestException, ServiceUnavailableException } from '@nestjs/common';
import { ValidationError } from 'class-validator';
import { z } from 'zod';
import { isClientError } from './client-error';
import { CallTimeoutError } from './errors';

describe('isClientError', () => {
  it('recognises 4xx answers however the status is carried', () => {
    expect(isClientError(new BadRequestException('bad'))).toBe(true);
    expect(isClientError(Object.assign(new Error('x'), { status: 404 }))).toBe(true);
    expect(isClientError({ statusCode: 409, message: 'conflict' })).toBe(true); // an RpcException payload
    expect(isClientError({ response: { status: 422 } })).toBe(true);
    expect(isClientError(Object.assign(new Error('x'), { isClientError: true }))).toBe(true);
  });

  it('recognises validation failures', () => {
    expect(isClientError(new ValidationError())).toBe(true);
    expect(isClientError([new ValidationError(), new ValidationError()])).toBe(true);
    expect(isClientError(z.object({ a: z.string() }).safeParse({}).error)).toBe(true);
  });

  it('counts server errors, overload answers, timeouts and network errors as failures', () => {
    expect(isClientError(new ServiceUnavailableException())).toBe(false);
    expect(isClientError({ status: 500 })).toBe(false);
    expect(isClientError({ status: 408 })).toBe(false);
    expect(isClientError({ status: 429 })).toBe(false);
    expect(isClientError(new CallTimeoutError('payment', 300))).toBe(false);
    expect(
      isClientError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(false);
    expect(isClientError(undefined)).toBe(false);
    expect(isClientError([])).toBe(false);
  });
});
