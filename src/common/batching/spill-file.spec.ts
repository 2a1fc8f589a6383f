import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reviveDates, SpillDirectory } from './spill-file';

describe(SpillDirectory.name, () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'hapa-spill-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('should hand back what earlier processes wrote, once, and only to its own source', () => {
    const sut = new SpillDirectory(dataDir, 'usage');
    sut.write({ n: 1 });
    sut.write({ n: 2 });
    new SpillDirectory(dataDir, 'errors').write({ other: true });
    expect(new SpillDirectory(dataDir, 'usage').take()).toEqual([{ n: 1 }, { n: 2 }]);
    expect(sut.take()).toEqual([]);
    expect(readdirSync(path.join(dataDir, 'spill')).filter((f) => f.startsWith('usage'))).toEqual([]);
  });

  it('should return nothing without a spill directory, and set an unreadable file aside instead of failing', () => {
    const sut = new SpillDirectory(dataDir, 'usage');
    expect(sut.take()).toEqual([]);
    sut.write({ ok: true });
    writeFileSync(path.join(dataDir, 'spill', 'usage-0-torn.json'), '{"half');
    expect(sut.take()).toEqual([{ ok: true }]);
    expect(readdirSync(path.join(dataDir, 'spill'))).toEqual(['usage-0-torn.json.bad']);
  });
});

describe(reviveDates.name, () => {
  it('should turn the named fields back into dates and ignore anything that is not a list', () => {
    const [row] = reviveDates<{ at: Date; id: string }>(JSON.parse(JSON.stringify([{ at: new Date(0), id: 'x' }])), [
      'at',
    ]);
    expect(row.at).toEqual(new Date(0));
    expect(row.id).toBe('x');
    expect(reviveDates({ not: 'a list' }, ['at'])).toEqual([]);
  });
});
