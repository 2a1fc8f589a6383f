import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class EmbeddedDatabaseInUseError extends Error {}

const claimed = new Set<string>();

/**
 * The embedded database (PGlite) has one user at a time: a second process opening the same files sees none of
 * the first one's writes and can corrupt them. The first process (server, admin or migration CLI) writes its pid
 * here; another one refuses while that process is alive. A stale file (process gone) is taken over.
 */
export function claimEmbeddedDataDir(dir: string): void {
  const file = path.join(dir, 'owner.pid');
  if (claimed.has(file)) return;
  const owner = Number.parseInt(readOrEmpty(file), 10);
  if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
    throw new EmbeddedDatabaseInUseError(
      `the embedded database under ${dir} is in use by process ${owner}: stop it first, or use DATABASE_URL`,
    );
  }
  writeFileSync(file, String(process.pid));
  claimed.add(file);
  process.once('exit', () => {
    try {
      if (readOrEmpty(file) === String(process.pid)) unlinkSync(file);
    } catch {
      // best effort: a stale file is taken over by the next process
    }
  });
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive, owned by another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // A pid reused by something else after a crash (Linux tells us what it runs; elsewhere, assume node).
  const cmdline = readOrEmpty(`/proc/${pid}/cmdline`);
  return cmdline === '' || cmdline.includes('node');
}
