import { AppLogger } from '../logging/json-logger';

/** The PostgreSQL SQLSTATE of a failed query (pg and PGlite both set `code`; TypeORM copies it or keeps `driverError`). */
export function sqlState(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const own = (e as { code?: unknown }).code;
  const driver = (e as { driverError?: { code?: unknown } }).driverError?.code;
  const code = typeof own === 'string' ? own : driver;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Class 22 (data exception: too long, NUL byte, out of range…) or 23 (integrity constraint violation):
 * the rows are at fault and retrying them as they are can never succeed.
 */
export function isDataError(e: unknown): boolean {
  const state = sqlState(e);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

/** A salvage stopped by an error that is not the rows' fault; `remaining` were not written. */
export class SalvageInterrupted<T> extends Error {
  constructor(
    cause: unknown,
    readonly remaining: T[],
    /** Rows dropped before it stopped. */
    readonly result: SalvageResult,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

export interface SalvageResult {
  rejected: number;
  sqlStates: string[];
}

/**
 * Writes `rows` with `write` (atomic per call), halving any part that fails with a data error until the
 * bad rows stand alone; those are dropped. One bad row in n costs about 2·log2(n) extra statements.
 * Any other error throws SalvageInterrupted with the rows not yet written, to be kept for a later attempt.
 */
export async function writeSalvaging<T>(rows: T[], write: (rows: T[]) => Promise<void>): Promise<SalvageResult> {
  const todo: T[][] = rows.length > 0 ? [rows] : [];
  let rejected = 0;
  const states = new Set<string>();
  while (todo.length > 0) {
    const part = todo.pop()!;
    try {
      await write(part);
    } catch (e) {
      if (!isDataError(e)) {
        throw new SalvageInterrupted(e, [part, ...todo.reverse()].flat(), { rejected, sqlStates: [...states].sort() });
      }
      if (part.length === 1) {
        rejected++;
        states.add(sqlState(e)!);
        continue;
      }
      const mid = part.length >> 1;
      todo.push(part.slice(mid), part.slice(0, mid));
    }
  }
  return { rejected, sqlStates: [...states].sort() };
}

/** Counts rows the database refused and warns at most once a minute, by SQLSTATE only: rows hold client text. */
export class RejectedRows {
  total = 0;
  private lastLog = 0;

  constructor(
    private readonly logger: AppLogger,
    private readonly message: string,
  ) {}

  add(results: SalvageResult[]): void {
    const rejected = results.reduce((n, r) => n + r.rejected, 0);
    if (rejected === 0) return;
    this.total += rejected;
    const now = Date.now();
    if (now - this.lastLog < 60_000) return;
    this.lastLog = now;
    this.logger.write('warn', this.message, {
      rejected,
      rejected_total: this.total,
      sqlstate: [...new Set(results.flatMap((r) => r.sqlStates))].sort(),
    });
  }
}
