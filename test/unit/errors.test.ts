import { describe, expect, it } from 'vitest';
import { ErrorBody } from '../../src/gateway/tool-contract.js';
import { ERROR_CODES, RateLimitedError, SshgateError } from '../../src/errors.js';

describe('a rate_limited error', () => {
  it('is an SshgateError whose JSON says when to retry, as a number a program can use', () => {
    const err = new RateLimitedError('principal "alice": calls_per_minute (120) used up', 'retry in 3 s', 3);
    expect(err).toBeInstanceOf(SshgateError);
    expect(ERROR_CODES).toContain(err.code);
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      code: 'rate_limited',
      message: 'principal "alice": calls_per_minute (120) used up',
      hint: 'retry in 3 s',
      retry_after_seconds: 3,
    });
  });

  it('fits the error of a fan-out host, whose schema refuses unknown fields', () => {
    const body = new RateLimitedError('m', 'h', 60).toJSON();
    expect(ErrorBody.strict().parse(body)).toEqual(body);
  });
});
