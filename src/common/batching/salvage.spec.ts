import { isDataError, SalvageInterrupted, sqlState, writeSalvaging } from './salvage';

const pgError = (code: string) => Object.assign(new Error('rejected'), { code });

describe(writeSalvaging.name, () => {
  it('should keep every good row and drop only the bad ones', async () => {
    const written: number[] = [];
    let statements = 0;
    const rows = Array.from({ length: 100 }, (_, i) => i);
    const result = await writeSalvaging(rows, async (part) => {
      statements++;
      if (part.includes(13) || part.includes(77)) throw pgError('22001');
      written.push(...part);
    });
    expect(written.sort((a, b) => a - b)).toEqual(rows.filter((r) => r !== 13 && r !== 77));
    expect(result).toEqual({ rejected: 2, sqlStates: ['22001'] });
    expect(statements).toBeLessThan(40);
  });

  it('should stop on an error that is not a data error and hand back what was not written', async () => {
    const written: number[] = [];
    const rows = [1, 2, 3, 4, 5, 6, 7, 8];
    const sut = writeSalvaging(rows, async (part) => {
      if (part.includes(2) && part.length > 1) throw pgError('23505');
      if (part.includes(6)) throw pgError('57P01');
      written.push(...part);
    });
    const error = (await sut.catch((e: unknown) => e)) as SalvageInterrupted<number>;
    expect(error).toBeInstanceOf(SalvageInterrupted);
    expect(sqlState(error.cause)).toBe('57P01');
    expect([...written, ...error.remaining].sort()).toEqual(rows);
    expect(written.filter((r) => error.remaining.includes(r))).toEqual([]);
  });
});

describe(isDataError.name, () => {
  it('should accept classes 22 and 23 only, on the error or on its driverError', () => {
    expect(isDataError(pgError('22P05'))).toBe(true);
    expect(isDataError(pgError('23514'))).toBe(true);
    expect(isDataError({ driverError: { code: '22021' } })).toBe(true);
    expect(isDataError(pgError('42P01'))).toBe(false);
    expect(isDataError(pgError('ECONNREFUSED'))).toBe(false);
    expect(isDataError(new Error('x'))).toBe(false);
    expect(isDataError(undefined)).toBe(false);
  });
});
