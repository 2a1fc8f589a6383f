import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { JsonLogger } from '../common/logging/json-logger';
import { loadConfig } from '../config/app-config';
import { AnalyticsRepository } from './analytics.repository';
import { UsageRecorder } from './usage-recorder';

const MAX_PENDING = 100_000;

describe(UsageRecorder.name, () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'hapa-usage-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  function build(repo: Partial<AnalyticsRepository>) {
    const registry = new Registry();
    const logs: string[] = [];
    const logger = new JsonLogger('info', true, (l) => logs.push(l));
    const histogram = (name: string) => new Histogram({ name, help: name, registers: [registry] });
    const overflow = new Counter({ name: 'overflow', help: 'o', labelNames: ['source'], registers: [registry] });
    const spilled = new Counter({
      name: 'spilled',
      help: 's',
      labelNames: ['source', 'direction'],
      registers: [registry],
    });
    const sut = new UsageRecorder(
      repo as AnalyticsRepository,
      logger,
      loadConfig({ DATA_DIR: dataDir }),
      new Counter({ name: 'tokens', help: 't', labelNames: ['adapter', 'direction'], registers: [registry] }),
      histogram('ttft'),
      histogram('upstream'),
      histogram('overhead'),
      spilled,
      overflow,
    );
    return { sut, logs, overflow, spilled };
  }

  const event = (i: number) => ({ at: new Date(), type: 'select' as const, completionId: `c${i}` });
  const connectionRefused = () =>
    Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

  it('should count and log what passes the bound while the database is down, and keep the rest', async () => {
    const { sut, logs, overflow } = build({ insertBatch: connectionRefused });
    for (let i = 0; i < MAX_PENDING + 25; i++) sut.recordCompletionEvent(event(i));
    await sut.flush();
    expect(sut.pending).toBe(MAX_PENDING);
    expect(sut.dropped).toBe(25);
    expect((await overflow.get()).values).toEqual([
      expect.objectContaining({ labels: { source: 'usage' }, value: 25 }),
    ]);
    expect(logs.filter((l) => l.includes('buffer full'))).toHaveLength(1);
  });

  it('should spill what the database did not take at shutdown and write it at the next start', async () => {
    const down = build({ insertBatch: connectionRefused });
    for (let i = 0; i < 3; i++) down.sut.recordCompletionEvent(event(i));
    await down.sut.beforeApplicationShutdown();
    expect(down.sut.pending).toBe(0);
    expect((await down.spilled.get()).values[0]).toMatchObject({ labels: { direction: 'out' }, value: 3 });

    const written: unknown[] = [];
    const up = build({
      insertBatch: async (usage, completions) => {
        written.push(...usage, ...completions);
      },
    });
    up.sut.onModuleInit();
    await up.sut.beforeApplicationShutdown();
    expect(written).toEqual(
      [0, 1, 2].map((i) => expect.objectContaining({ completionId: `c${i}`, at: expect.any(Date) })),
    );
    expect((await up.spilled.get()).values[0]).toMatchObject({ labels: { direction: 'in' }, value: 3 });
    expect(up.logs.some((l) => l.includes('restored') && l.includes('"events":3'))).toBe(true);
  });
});
