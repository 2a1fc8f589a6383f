import { spawn, spawnSync } from 'node:child_process';
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

  it('should refuse a directory another live node process holds', async () => {
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      await new Promise((r) => other.once('spawn', r));
      writeFileSync(path.join(dir, 'owner.pid'), String(other.pid));
      expect(() => claimEmbeddedDataDir(dir)).toThrow(EmbeddedDatabaseInUseError);
      expect(() => claimEmbeddedDataDir(dir)).toThrow(`in use by process ${other.pid}`);
      expect(owner()).toBe(String(other.pid));
    } finally {
      other.kill();
    }
  });

  it('should take over from a pid that now runs something other than node', async () => {
    const other = spawn('sleep', ['30']);
    try {
      await new Promise((r) => other.once('spawn', r));
      writeFileSync(path.join(dir, 'owner.pid'), String(other.pid));
      claimEmbeddedDataDir(dir);
      expect(owner()).toBe(String(process.pid));
    } finally {
      other.kill();
    }
  });

  it('should take over from a process that is gone', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(path.join(dir, 'owner.pid'), String(gone));
    claimEmbeddedDataDir(dir);
    expect(owner()).toBe(String(process.pid));
  });
});
