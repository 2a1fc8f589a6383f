import { GenerationAbort } from '../model-server/model-server.service';
import { GenerationOutcome } from '../model-server/model-server.types';
import { GenerationListener, RunGeneration, SharedGeneration } from './shared-generation';

const OUTCOME: GenerationOutcome = {
  usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
  usageReported: true,
  ttftMs: 1,
  upstreamMs: 2,
  server: 'test',
  attempts: 1,
};

/** A generation driven by hand: `emit` deltas, then `finish` or `fail`. */
function manual() {
  let sink!: Parameters<RunGeneration>[0];
  let signal!: AbortSignal;
  let resolve!: (o: GenerationOutcome) => void;
  let reject!: (e: unknown) => void;
  const settled: (GenerationOutcome | undefined)[] = [];
  const sut = new SharedGeneration(
    (s, ctl) => {
      sink = s;
      signal = ctl.signal;
      return new Promise((res, rej) => {
        resolve = res;
        reject = rej;
        ctl.signal.addEventListener('abort', () => rej(ctl.signal.reason));
      });
    },
    (o) => settled.push(o),
  );
  return {
    sut,
    settled,
    emit: (d: string) => sink.text(d),
    sink: () => sink,
    signal: () => signal,
    finish: () => resolve(OUTCOME),
    fail: (e: unknown) => reject(e),
  };
}

function listener(stream: boolean) {
  const tokens: string[] = [];
  const events: string[] = [];
  const l: GenerationListener = {
    ...(stream && { token: (d: string) => void tokens.push(d) }),
    end: (_o, deltas) => void events.push(`end:${deltas.join('')}`),
    fail: (e) => void events.push(`fail:${String(e)}`),
  };
  return { l, tokens, events };
}

const tick = () => new Promise((r) => setImmediate(r));

describe(SharedGeneration.name, () => {
  it('should replay earlier deltas to a stream that joins late and end every listener once', async () => {
    const g = manual();
    const a = listener(true);
    g.sut.attach(a.l);
    g.emit('de');
    g.emit('f ');
    const b = listener(true);
    const c = listener(false);
    g.sut.attach(b.l);
    g.sut.attach(c.l);
    g.emit('x');
    g.finish();
    await tick();
    expect(a.tokens).toEqual(['de', 'f ', 'x']);
    expect(b.tokens).toEqual(['de', 'f ', 'x']);
    for (const x of [a, b, c]) expect(x.events).toEqual(['end:def x']);
    expect(g.settled).toEqual([OUTCOME]);
  });

  it('should keep running while one listener remains and abort when the last one leaves', async () => {
    const g = manual();
    const a = listener(true);
    const b = listener(false);
    const detachA = g.sut.attach(a.l);
    const detachB = g.sut.attach(b.l);
    detachA();
    expect(g.signal().aborted).toBe(false);
    expect(g.sut.joinable).toBe(true);
    detachB();
    expect(g.signal().aborted).toBe(true);
    expect((g.signal().reason as GenerationAbort).kind).toBe('client');
    expect(g.sut.joinable).toBe(false);
    await tick();
    expect(g.settled).toEqual([undefined]);
    expect([...a.events, ...b.events]).toEqual([]);
  });

  it('should allow a retry from scratch only until a stream listener has seen a delta', () => {
    const g = manual();
    g.sut.attach(listener(false).l);
    g.emit('partial');
    const reset = g.sink().reset;
    expect(reset).toBeDefined();
    reset!();
    expect(g.sut.deltas).toEqual([]);
    g.sut.attach(listener(true).l);
    g.emit('seen');
    expect(g.sink().reset).toBeUndefined();
  });

  it('should fail every listener on an upstream error and never start a dropped generation', async () => {
    const g = manual();
    const a = listener(true);
    g.sut.attach(a.l);
    g.fail('boom');
    await tick();
    expect(a.events).toEqual(['fail:boom']);
    expect(g.sut.joinable).toBe(false);
    const run = jest.fn();
    const dropped = new SharedGeneration(run, () => undefined);
    dropped.drop();
    expect(dropped.joinable).toBe(false);
    expect(run).not.toHaveBeenCalled();
  });

  it('should still start a dropped generation for a client that had already joined it', async () => {
    const g = manual();
    g.sut.drop(); // the first client left before attaching
    expect(g.sut.joinable).toBe(false);
    const late = listener(false); // joined before the drop, attaches after it
    g.sut.attach(late.l);
    g.emit('answer');
    g.finish();
    await tick();
    expect(late.events).toEqual(['end:answer']);
    expect(g.settled).toEqual([undefined, OUTCOME]);
  });
});
