import { GenerationAbort } from '../model-server/model-server.service';
import { GenerationOutcome, TokenSink } from '../model-server/model-server.types';

/** One client's view of a generation. */
export interface GenerationListener {
  /** Streams only: every delta in order; deltas produced before the listener joined are replayed first. */
  token?(delta: string): void;
  end(outcome: GenerationOutcome, deltas: readonly string[]): void;
  fail(error: unknown): void;
}

export type RunGeneration = (
  sink: TokenSink & { readonly reset?: () => void },
  ctl: AbortController,
) => Promise<GenerationOutcome>;

/**
 * One upstream generation shared by every client that asked the same thing while it ran. It starts
 * with its first listener; a listener leaving does not stop it while others remain, and the last
 * one leaving aborts the upstream request. Deltas are kept (they become the cache entry), so a
 * client joining late gets the whole answer.
 */
export class SharedGeneration {
  readonly deltas: string[] = [];
  private readonly listeners = new Set<GenerationListener>();
  private readonly ctl = new AbortController();
  // `dropped`: its first client left before it started; no new joins, but one who already joined may still start it.
  private state: 'idle' | 'dropped' | 'running' | 'done' | 'failed' = 'idle';
  private outcome?: GenerationOutcome;
  // Once a stream client has seen a delta, a retry on another server can no longer start over.
  private streamed = false;

  constructor(
    private readonly run: RunGeneration,
    private readonly onSettled: (outcome: GenerationOutcome | undefined, deltas: readonly string[]) => void,
  ) {}

  /** False once it failed or was abandoned: a new request must start its own generation. */
  get joinable(): boolean {
    return this.state === 'done' || (this.state !== 'failed' && this.state !== 'dropped' && !this.ctl.signal.aborted);
  }

  /** Adds a listener (starting the generation if it is the first); returns its detach function. */
  attach(listener: GenerationListener): () => void {
    if (this.state === 'done') {
      if (listener.token) for (const d of this.deltas) listener.token(d);
      settle(listener, this.outcome!, this.deltas);
      return () => undefined;
    }
    if (listener.token && this.deltas.length > 0) {
      this.streamed = true;
      for (const d of this.deltas) listener.token(d);
    }
    this.listeners.add(listener);
    if (this.state === 'idle' || this.state === 'dropped') this.start();
    return () => this.detach(listener);
  }

  /** Gives up a generation nobody attached to (its client left before it started). */
  drop(): void {
    if (this.state !== 'idle') return;
    this.state = 'dropped';
    this.onSettled(undefined, this.deltas);
  }

  private detach(listener: GenerationListener): void {
    if (!this.listeners.delete(listener)) return;
    if (this.listeners.size === 0 && this.state === 'running') this.ctl.abort(new GenerationAbort('client'));
  }

  private start(): void {
    this.state = 'running';
    const listeners = this.listeners;
    const deltas = this.deltas;
    const markStreamed = (): void => {
      this.streamed = true;
    };
    const isStreamed = (): boolean => this.streamed;
    const sink = {
      text(delta: string): void {
        deltas.push(delta);
        for (const l of listeners) {
          if (l.token) {
            markStreamed();
            l.token(delta);
          }
        }
      },
      // read by ModelServerService before a retry: only one-shot clients can be started over
      get reset(): (() => void) | undefined {
        return isStreamed() ? undefined : () => void (deltas.length = 0);
      },
    };
    this.run(sink, this.ctl).then(
      (outcome) => {
        this.state = 'done';
        this.outcome = outcome;
        const settled = [...listeners];
        listeners.clear();
        for (const l of settled) settle(l, outcome, deltas);
        this.onSettled(outcome, deltas);
      },
      (e: unknown) => {
        this.state = 'failed';
        const settled = [...listeners];
        listeners.clear();
        for (const l of settled) l.fail(e);
        this.onSettled(undefined, deltas);
      },
    );
  }
}

function settle(l: GenerationListener, outcome: GenerationOutcome, deltas: readonly string[]): void {
  try {
    l.end(outcome, deltas);
  } catch (e) {
    l.fail(e);
  }
}
