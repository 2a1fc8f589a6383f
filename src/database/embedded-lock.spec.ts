import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { claimEmbeddedDataDir, EmbeddedDatabaseInUseError } from './embedded-lock';

describe(claimEmbeddedDataDir.name, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hapa-lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const owner = () => readFileSync(path.join(dir, 'owner.pid'), 'utf8');

  it('should record this process as the owner, and accept being claimed again by it', () => {
    claimEmbeddedDataDir(dir);
    claimEmbeddedDataDir(dir);
    expect(owner()).toBe(String(process.pid));
  });

  it('should refuse a directory another live process holds', () => {
    writeFileSync(path.join(dir, 'owner.pid'), String(process.ppid));
    expect(() => claimEmbeddedDataDir(dir)).toThrow(EmbeddedDatabaseInUseError);
    expect(() => claimEmbeddedDataDir(dir)).toThrow(`in use by process ${process.ppid}`);
    expect(owner()).toBe(String(process.ppid));
  });

  it('should take over from a process that is gone', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(path.join(dir, 'owner.pid'), String(gone));
    claimEmbeddedDataDir(dir);
    expect(owner()).toBe(String(process.pid));
  });
});
