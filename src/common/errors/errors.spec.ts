import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { mapException } from './all-exceptions.filter';
import { AppException } from './app.exception';
import { ERROR_CATALOGUE, ErrorCode } from './error-codes';
import { newIncidentId } from './incident-id';

describe('error catalogue', () => {
  it('should have the 22 codes of spec §3 with their HTTP statuses', () => {
    expect(Object.keys(ERROR_CATALOGUE)).toHaveLength(22);
    const statuses = Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([c, d]) => [c, d.status]));
    expect(statuses).toMatchObject({
      E4001: 400,
      E4002: 422,
      E4003: 401,
      E4004: 429,
      E4005: 403,
      E4006: 422,
      E4007: 422,
    });
    expect(statuses).toMatchObject({ E4008: 413, E4009: 404, E4010: 401, E4011: 400, E4012: 409, E4013: 429 });
    expect(statuses).toMatchObject({
      E5001: 504,
      E5003: 503,
      E5004: 500,
      E5005: 503,
      E5006: 502,
      E5007: 502,
      E5008: 503,
      E5009: 503,
    });
  });
});

describe(mapException.name, () => {
  it('should keep an AppException as thrown and hide its cause from the message', () => {
    const sut = mapException(
      new AppException(ErrorCode.E4012, { message: 'exists', cause: new Error('unique violation') }),
    );
    expect(sut).toMatchObject({ code: 'E4012', status: 409, message: 'exists', internal: 'Error: unique violation' });
  });

  it('should map framework exceptions by status with neutral messages', () => {
    expect(mapException(new NotFoundException('Cannot GET /x'))).toMatchObject({
      code: 'E4009',
      message: 'Route not found',
    });
    expect(mapException(new BadRequestException('x')).code).toBe('E4001');
    expect(mapException(new PayloadTooLargeException()).code).toBe('E4008');
  });

  it('should turn anything else into E5004 without leaking its message', () => {
    const sut = mapException(new TypeError('secret detail'));
    expect(sut).toMatchObject({ code: 'E5004', status: 500, message: 'Internal server error' });
    expect(sut.internal).toContain('secret detail');
  });
});

describe(newIncidentId.name, () => {
  it('should follow INC-YYYYMMDD-XXXXXXXX with the UTC date', () => {
    expect(newIncidentId(new Date('2026-11-22T23:59:00Z'))).toMatch(/^INC-20261122-[0-9A-F]{8}$/);
    expect(new Set(Array.from({ length: 100 }, () => newIncidentId())).size).toBe(100);
  });
});
