import { EntityManager } from 'typeorm';

// PostgreSQL allows 65535 bind parameters per statement; stay well below.
const MAX_PARAMS = 30_000;

/**
 * `INSERT INTO table (cols) VALUES (...), (...) [suffix]` in as few statements as the parameter
 * limit allows. Column and table names are trusted constants, values are always bound.
 */
export async function insertRows(
  manager: EntityManager,
  table: string,
  columns: readonly string[],
  rows: readonly unknown[][],
  suffix = '',
): Promise<void> {
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  const head = `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES `;
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const params: unknown[] = [];
    const tuples = chunk.map((row) => {
      const marks = row.map((v) => {
        params.push(v);
        return `$${params.length}`;
      });
      return `(${marks.join(', ')})`;
    });
    await manager.query(`${head}${tuples.join(', ')} ${suffix}`, params);
  }
}
