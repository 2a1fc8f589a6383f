import { AppException } from '../common/errors/app.exception';
import { DeltaWriter, UpstreamOutcome } from '../model-server/model-server.types';
import { ClientGoneError, GenerationAbort } from '../model-server/upstream-abort';
import { CONSUMER_QUEUE_CHARS, SharedGeneration } from './shared-generation';

const OUTCOME: UpstreamOutcome = {
  usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  usageReported: true,
  finishReason: 'stop',
  ttftMs: 1,
  upstreamMs: 2,
  server: 'test',
  attempts: 1,
};

/** A writer whose buffer is full until `drain()` is called. */
class TestWriter implements DeltaWriter {
  readonly got: string[] = [];
  full = false;
  private waiters: (() => void)[] = [];

  write(delta: string): boolean {
    this.got.push(delta);
    return !this.full;
  }

  drained(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }

  drain(): void {
    this.full = false;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}

/** An upstream the test drives by hand. */
function upstream() {
  let out!: DeltaWriter;
  let ctl!: AbortController;
  let finish!: (o: UpstreamOutcome) => void;
  let fail!: (e: unknown) => void;
  const run = jest.fn(
    (w: DeltaWriter, c: AbortController) =>
      new Promise<UpstreamOutcome>((resolve, reject) => {
        out = w;
        ctl = c;
        finish = resolve;
        fail = reject;
      }),
  );
  return {
    run,
    write: (d: string) => out.write(d),
    drained: () => out.drained(),
    signal: () => ctl.signal,
    finish: (o = OUTCOME) => finish(o),
    fail: (e: unknown) => fail(e),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe(SharedGeneration.name, () => {
  it('should hand every delta to a consumer in order, then the outcome', async () => {
    const up = upstream();
    const sut = new SharedGeneration(up.run, false, jest.fn());
    const w = new TestWriter();
    const done = sut.consume(w, new AbortController().signal);
    expect(up.write('a')).toBe(true);
    expect(up.write('b')).toBe(true);
    up.finish();
    await expect(done).resolves.toBe(OUTCOME);
    expect(w.got).toEqual(['a', 'b']);
    expect(sut.deltas).toEqual([]); // keep=false: no copy held
  });

  it('should report a full buffer upstream only while every consumer is full', async () => {
    const up = upstream();
    const sut = new SharedGeneration(up.run, true, jest.fn());
    const a = new TestWriter();
    const b = new TestWriter();
    void sut.consume(a, new AbortController().signal);
    void sut.consume(b, new AbortController().signal);
    a.full = true;
    expect(up.write('1')).toBe(true); // b still has room
    b.full = true;
    expect(up.write('2')).toBe(false);
    let resumed = false;
    void up.drained().then(() => (resumed = true));
    await tick();
    expect(resumed).toBe(false);
    a.drain();
    await tick();
    expect(resumed).toBe(true);
    expect(a.got).toEqual(['1', '2']);
  });

  it('should hold the outcome until a blocked consumer has taken every queued delta', async () => {
    const up = upstream();
    const sut = new SharedGeneration(up.run, false, jest.fn());
    const w = new TestWriter();
    w.full = true;
    let settled = false;
    const done = sut.consume(w, new AbortController().signal).then((o) => ((settled = true), o));
    up.write('x');
    up.write('y'); // queued: x reported the buffer full
    up.finish();
    await tick();
    expect(settled).toBe(false);
    w.drain();
    await expect(done).resolves.toBe(OUTCOME);
    expect(w.got).toEqual(['x', 'y']);
  });

  it('should cut only a follower whose queue passes its bound, with E5008, while the others go on', async () => {
    const up = upstream();
    const sut = new SharedGeneration(up.run, true, jest.fn());
    const slow = new TestWriter();
    const fast = new TestWriter();
    slow.full = true;
    const slowDone = sut.consume(slow, new AbortController().signal);
    const fastDone = sut.consume(fast, new AbortController().signal);
    const chunk = 'z'.repeat(64 * 1024);
    for (let sent = 0; sent <= CONSUMER_QUEUE_CHARS + chunk.length; sent += chunk.length) {
      expect(up.write(chunk)).toBe(true);
    }
    await expect(slowDone).rejects.toMatchObject({ code: 'E5008' });
    await expect(slowDone).rejects.toBeInstanceOf(AppException);
    expect(up.signal().aborted).toBe(false);
    up.finish();
    await expect(fastDone).resolves.toBe(OUTCOME);
  });

  it('should not cut a late joiner for the backlog it joined with, only for falling behind after', async () => {
    const up = upstream();
    const sut = new SharedGeneration(up.run, true, jest.fn());
    void sut.consume(new TestWriter(), new AbortController().signal);
    const chunk = 'q'.repeat(64 * 1024);
    for (let sent = 0; sent <= 2 * CONSUMER_QUEUE_CHARS; sent += chunk.length) up.write(chunk);
    const late = new TestWriter();
    late.full = true; // takes one delta, then its buffer is full
    const done = sut.consume(late, new AbortController().signal);
    up.write(chunk);
    late.drain();
    await tick();
    up.finish();
    await expect(done).resolves.toBe(OUTCOME);
    expect(late.got.join('').length).toBe(sut.deltas.join('').length);
  });

  it('should abort the upstream request when the last consumer leaves, not before', async () => {
    const up = upstream();
    const sut = new SharedGeneration(up.run, true, jest.fn());
    const a = new AbortController();
    const b = new AbortController();
    const first = sut.consume(new TestWriter(), a.signal);
    const second = sut.consume(new TestWriter(), b.signal);
    a.abort();
    await expect(first).rejects.toBeInstanceOf(ClientGoneError);
    expect(up.signal().aborted).toBe(false);
    b.abort();
    await expect(second).rejects.toBeInstanceOf(ClientGoneError);
    expect(up.signal().aborted).toBe(true);
    expect((up.signal().reason as GenerationAbort).kind).toBe('client');
    expect(sut.joinable).toBe(false);
  });

  it('should replay what was generated to a late joiner, then stream the rest', async () => {
    const up = upstream();
    const settled = jest.fn();
    const sut = new SharedGeneration(up.run, true, settled);
    void sut.consume(new TestWriter(), new AbortController().signal);
    up.write('a');
    const late = new TestWriter();
    const done = sut.consume(late, new AbortController().signal);
    up.write('b');
    up.finish();
    await expect(done).resolves.toBe(OUTCOME);
    expect(late.got).toEqual(['a', 'b']);
    expect(up.run).toHaveBeenCalledTimes(1);
    expect(settled).toHaveBeenCalledWith(OUTCOME, ['a', 'b']);
  });

  it('should pass an upstream failure to every consumer and never store it', async () => {
    const up = upstream();
    const settled = jest.fn();
    const sut = new SharedGeneration(up.run, true, settled);
    const done = sut.consume(new TestWriter(), new AbortController().signal);
    up.fail(new Error('boom'));
    await expect(done).rejects.toThrow('boom');
    expect(settled).toHaveBeenCalledWith(undefined, []);
    expect(sut.joinable).toBe(false);
  });
});
