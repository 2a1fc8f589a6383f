import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { DeltaWriter, UpstreamOutcome } from '../model-server/model-server.types';
import { ClientGoneError, GenerationAbort } from '../model-server/upstream-abort';

/** Starts the upstream generation, writing into the shared writer; the controller aborts it. */
export type RunUpstream = (out: DeltaWriter, ctl: AbortController) => Promise<UpstreamOutcome>;

// How far (characters) one consumer may fall behind while others keep the upstream going.
export const CONSUMER_QUEUE_CHARS = 1024 * 1024;

type Result = { outcome: UpstreamOutcome } | { error: unknown };

/** One client's place in a generation: its writer and how far it has read. */
class Consumer {
  /** Index of the next kept delta to write (keep: true). */
  next = 0;
  /** Deltas not yet written (keep: false; there the generation holds no copy of its own). */
  readonly pending: string[] = [];
  /** Characters written to this consumer. */
  sent = 0;
  /** How far behind it may be: its backlog when it joined (shrinking as it catches up) plus the bound. */
  allowance = 0;
  blocked = false;
  /** The generation's result, held until every delta reached this consumer. */
  result?: Result;

  constructor(
    readonly out: DeltaWriter,
    readonly resolve: (outcome: UpstreamOutcome) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * One upstream generation shared by every client that asked the same thing while it ran, and
 * the DeltaWriter the upstream reader writes into. A delta goes straight to every consumer that has
 * room; a consumer whose client is full takes it later. The upstream read pauses only while every
 * consumer is full, so one stalled follower never stalls the others; a follower more than
 * CONSUMER_QUEUE_CHARS behind (beyond the backlog it joined with) is cut alone with E5008. The last
 * consumer leaving aborts the upstream request. `keep`: deltas are kept for the cache and for late
 * joiners (consumers read them by index, no copies); otherwise no copy is held.
 */
export class SharedGeneration implements DeltaWriter {
  readonly deltas: string[] = [];
  private readonly consumers = new Set<Consumer>();
  private readonly ctl = new AbortController();
  private state: 'idle' | 'running' | 'done' | 'failed' = 'idle';
  private outcome?: UpstreamOutcome;
  private total = 0;
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
      // A late joiner first gets what was generated before it came; that backlog is not held against it.
      consumer.allowance = this.total + CONSUMER_QUEUE_CHARS;
      this.consumers.add(consumer);
      if (this.state === 'done') consumer.result = { outcome: this.outcome! };
      this.flush(consumer);
      if (this.state === 'idle') this.start();
    });
  }

  write(delta: string): boolean {
    this.total += delta.length;
    if (this.keep) this.deltas.push(delta);
    let room = false;
    for (const c of this.consumers) {
      if (!this.keep) c.pending.push(delta);
      if (!c.blocked) {
        this.flush(c);
        if (!c.blocked) room = true;
      } else if (this.total - c.sent > c.allowance) {
        this.leave(c, new AppException(ErrorCode.E5008, { message: 'Client too slow: its stream was cut' }));
      }
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
        this.settleAll({ outcome });
        this.onSettled(outcome, this.deltas);
      },
      (error: unknown) => {
        this.state = 'failed';
        this.settleAll({ error });
        this.onSettled(undefined, this.deltas);
      },
    );
  }

  private settleAll(result: Result): void {
    for (const c of [...this.consumers]) {
      c.result = result;
      if (!c.blocked) this.flush(c);
    }
  }

  /** Writes what a consumer has not taken yet, until its client is full; then its result, if any. */
  private flush(c: Consumer): void {
    if (!this.consumers.has(c)) return;
    c.blocked = false;
    for (;;) {
      let delta: string | undefined;
      if (this.keep) delta = c.next < this.deltas.length ? this.deltas[c.next++] : undefined;
      else delta = c.pending.shift();
      if (delta === undefined) break;
      c.sent += delta.length;
      if (!c.out.write(delta)) {
        c.blocked = true;
        c.out.drained().then(
          () => this.resume(c),
          (e: unknown) => this.leave(c, e),
        );
        return;
      }
    }
    // caught up: only new lag counts from here on
    c.allowance = Math.min(c.allowance, CONSUMER_QUEUE_CHARS);
    if (c.result) {
      this.consumers.delete(c);
      if ('outcome' in c.result) c.resolve(c.result.outcome);
      else c.reject(c.result.error);
    }
  }

  private resume(c: Consumer): void {
    this.flush(c);
    if (!c.blocked) this.wake();
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
