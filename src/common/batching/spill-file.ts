import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

let spillSeq = 0;

/**
 * Telemetry that could not reach the database before the process stopped, kept as one JSON file per
 * shutdown under `<DATA_DIR>/spill/` and read back at the next start. Several processes may share the
 * directory (cluster workers, instances on one volume): a file is claimed by renaming it, so exactly
 * one process takes each.
 */
export class SpillDirectory {
  private readonly dir: string;

  constructor(
    dataDir: string,
    /** File-name prefix naming the kind of records, e.g. `usage`. */
    private readonly source: string,
  ) {
    this.dir = path.resolve(dataDir, 'spill');
  }

  /** Writes `payload` to a new file (temporary name, then rename: a reader never sees half a file). */
  write(payload: unknown): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // Zero-padded time and a per-process sequence: names sort in the order they were written.
    const seq = String(++spillSeq).padStart(6, '0');
    const name = `${this.source}-${String(Date.now()).padStart(15, '0')}-${seq}-${process.pid}-${randomBytes(4).toString('hex')}.json`;
    const tmp = path.join(this.dir, `.${name}.tmp`);
    writeFileSync(tmp, JSON.stringify(payload), { mode: 0o600 });
    const file = path.join(this.dir, name);
    renameSync(tmp, file);
    return file;
  }

  /** Every payload left by earlier processes, oldest first; the files are removed once read. */
  take(): unknown[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return []; // no spill directory: nothing was left
    }
    const payloads: unknown[] = [];
    for (const name of names.filter((n) => n.startsWith(`${this.source}-`) && n.endsWith('.json')).sort()) {
      const claimed = path.join(this.dir, `.${name}.claimed-${process.pid}`);
      try {
        renameSync(path.join(this.dir, name), claimed);
      } catch {
        continue; // another process took it
      }
      try {
        payloads.push(JSON.parse(readFileSync(claimed, 'utf8')));
        rmSync(claimed, { force: true });
      } catch {
        // Unreadable: set aside for a person to look at rather than retried at every start.
        renameSync(claimed, path.join(this.dir, `${name}.bad`));
      }
    }
    return payloads;
  }
}

/** JSON turned Dates into strings: turns the named fields of each row back. */
export function reviveDates<T>(rows: unknown, fields: readonly string[]): T[] {
  if (!Array.isArray(rows)) return [];
  return rows.map((row: Record<string, unknown>) => {
    for (const f of fields) if (typeof row[f] === 'string') row[f] = new Date(row[f]);
    return row as T;
  });
}
