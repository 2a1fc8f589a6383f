import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { DeltaWriter, UpstreamOutcome } from '../model-server/model-server.types';
import { ClientGoneError, GenerationAbort } from '../model-server/upstream-abort';

/** Starts the upstream generation, writing into the shared writer; the controller aborts it. */
export type RunUpstream = (out: DeltaWriter, ctl: AbortController) => Promise<UpstreamOutcome>;

// What one consumer may have queued while its client reads nothing and others keep the upstream going.
export const CONSUMER_QUEUE_CHARS = 1024 * 1024;

/** One client's place in a generation: its writer, and what it has not yet taken. */
class Consumer {
  readonly queue: string[] = [];
  head = 0;
  queued = 0;
  blocked = false;
  /** The generation's result, held until this consumer's queue is flushed. */
  result?: { outcome: UpstreamOutcome } | { error: unknown };

  constructor(
    readonly out: DeltaWriter,
    readonly resolve: (outcome: UpstreamOutcome) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * One upstream generation shared by every client that asked the same thing while it ran, and
 * the DeltaWriter the upstream reader writes into. Each delta goes straight to every consumer that
 * has room; a consumer whose client is full queues its own deltas (up to CONSUMER_QUEUE_CHARS characters, then
 * it alone is cut with E5008). The upstream read pauses only while every consumer is full, so one
 * stalled follower never stalls the others. The last consumer leaving aborts the upstream request.
 * `keep`: deltas are kept for the cache and for late joiners; otherwise no copy is held.
 */
export class SharedGeneration implements DeltaWriter {
  readonly deltas: string[] = [];
  private readonly consumers = new Set<Consumer>();
  private readonly ctl = new AbortController();
  private state: 'idle' | 'running' | 'done' | 'failed' = 'idle';
  private outcome?: UpstreamOutcome;
  private waiting: (() => void)[] = [];

  constructor(
    private readonly run: RunUpstream,
    readonly keep: boolean,
    private readonly onSettled: (outcome: UpstreamOutcome | undefined, deltas: readonly string[]) => void,
  ) {}

  /** False once it failed or was abandoned: a new request must start its own generation. */
  get joinable(): boolean {
    return this.keep && (this.state === 'done' || (this.state !== 'failed' && !this.ctl.signal.aborted));
  }

  /**
   * Adds a consumer (starting the generation with the first) and resolves with the outcome once
   * every delta reached `out`. `signal` aborting detaches it (ClientGoneError).
   */
  consume(out: DeltaWriter, signal: AbortSignal): Promise<UpstreamOutcome> {
    return new Promise<UpstreamOutcome>((resolve, reject) => {
      if (signal.aborted) return reject(new ClientGoneError());
      const onAbort = (): void => this.leave(consumer, new ClientGoneError());
      const consumer = new Consumer(
        out,
        (outcome) => {
          signal.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
        (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
      signal.addEventListener('abort', onAbort, { once: true });
      this.consumers.add(consumer);
      // A late joiner first gets what was generated before it came.
      for (const d of this.deltas) this.deliver(consumer, d);
      if (this.state === 'done') this.finish(consumer, { outcome: this.outcome! });
      else if (this.state === 'idle') this.start();
    });
  }

  write(delta: string): boolean {
    if (this.keep) this.deltas.push(delta);
    let room = false;
    for (const c of this.consumers) {
      if (this.deliver(c, delta)) room = true;
    }
    return room || this.consumers.size === 0;
  }

  /** Resolves when some consumer has room again (or left). */
  drained(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private start(): void {
    this.state = 'running';
    this.run(this, this.ctl).then(
      (outcome) => {
        this.state = 'done';
        this.outcome = outcome;
        for (const c of [...this.consumers]) this.finish(c, { outcome });
        this.onSettled(outcome, this.deltas);
      },
      (error: unknown) => {
        this.state = 'failed';
        for (const c of [...this.consumers]) this.finish(c, { error });
        this.onSettled(undefined, this.deltas);
      },
    );
  }

  /** Writes to one consumer, or queues while it is full; true when it still has room. */
  private deliver(c: Consumer, delta: string): boolean {
    if (c.blocked) {
      c.queue.push(delta);
      c.queued += delta.length;
      if (c.queued > CONSUMER_QUEUE_CHARS) {
        this.leave(c, new AppException(ErrorCode.E5008, { message: 'Client too slow: its stream was cut' }));
      }
      return false;
    }
    if (c.out.write(delta)) return true;
    c.blocked = true;
    c.out.drained().then(
      () => this.flush(c),
      (e: unknown) => this.leave(c, e),
    );
    return false;
  }

  /** A consumer drained: hand it its queue, then (if it kept up) its result. */
  private flush(c: Consumer): void {
    if (!this.consumers.has(c)) return;
    c.blocked = false;
    while (c.head < c.queue.length) {
      const d = c.queue[c.head++];
      c.queued -= d.length;
      if (!c.out.write(d)) {
        c.blocked = true;
        c.out.drained().then(
          () => this.flush(c),
          (e: unknown) => this.leave(c, e),
        );
        return;
      }
    }
    c.queue.length = c.head = 0;
    if (c.result) return this.finish(c, c.result);
    this.wake();
  }

  private finish(c: Consumer, result: { outcome: UpstreamOutcome } | { error: unknown }): void {
    if (c.blocked) {
      c.result = result; // every queued delta first, then the outcome or the in-band error
      return;
    }
    this.consumers.delete(c);
    if ('outcome' in result) c.resolve(result.outcome);
    else c.reject(result.error);
  }

  private leave(c: Consumer, error: unknown): void {
    if (!this.consumers.delete(c)) return;
    c.reject(error);
    if (this.consumers.size === 0 && this.state === 'running') this.ctl.abort(new GenerationAbort('client'));
    else this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    if (waiting.length === 0) return;
    this.waiting = [];
    for (const w of waiting) w();
  }
}
