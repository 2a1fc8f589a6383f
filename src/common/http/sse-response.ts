import type { Response } from 'express';
import { drainedOrClosed } from './request-pipeline';

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/** A frame that fills silences of a stream, so that proxies and clients do not give up on it. */
export interface SseKeepAlive {
  frame: string;
  /** Silence, ms, before each keep-alive frame. */
  afterMs: number;
  /**
   * Also while the first frame is awaited (the 200 and the headers then go out with the first
   * keep-alive, and a later error is in-band); otherwise only once the first frame is out.
   */
  beforeFirstFrame: boolean;
}

/**
 * The socket side of one SSE answer, for every streaming front door: the 200 and its headers go out
 * with the first frame (so an error before it is still an ordinary JSON error), and frames written in
 * one event-loop turn leave in one writev: under load an upstream chunk carries several tokens
 * (bench: CPU per relayed token 51 µs corked, 113 µs uncorked, same run shape). With a keep-alive,
 * its frame fills every silence of `afterMs`, except towards a client whose buffer is full: a reader
 * that reads nothing gets nothing more queued, and the generation core's stall watch cuts it.
 */
export class SseResponse {
  private opened = false;
  private corked = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly res: Response,
    private readonly keepAlive?: SseKeepAlive,
  ) {
    if (!keepAlive) return;
    res.once('close', () => this.stop());
    if (keepAlive.beforeFirstFrame) this.arm();
  }

  get started(): boolean {
    return this.opened;
  }

  /** Writes one or more frames; false when the socket's buffer is full (wait for `drained`). */
  write(frames: string): boolean {
    this.open();
    this.timer?.refresh();
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(this.uncork);
    }
    return this.res.write(frames);
  }

  /** The last frames in the same write as the end (an answer that was never opened opens with them). */
  end(frames: string): void {
    this.open();
    this.stop();
    this.res.end(frames);
  }

  drained(): Promise<void> {
    return drainedOrClosed(this.res);
  }

  /** No more keep-alives: the answer ends elsewhere (`res.end`, the exception filter). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private open(): void {
    if (this.opened) return;
    this.opened = true;
    this.res.writeHead(200, SSE_HEADERS);
    if (this.keepAlive && !this.keepAlive.beforeFirstFrame) this.arm();
  }

  private arm(): void {
    if (!this.stopped) this.timer = setTimeout(this.beat, this.keepAlive!.afterMs);
  }

  private readonly beat = (): void => {
    if (this.res.writableEnded || this.res.destroyed) return this.stop();
    if (this.res.writableNeedDrain) this.timer?.refresh();
    else this.write(this.keepAlive!.frame);
  };

  private readonly uncork = (): void => {
    this.corked = false;
    this.res.uncork();
  };
}
