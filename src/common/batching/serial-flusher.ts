/**
 * Runs a flush function on a timer, on demand (size threshold, shutdown), never two at once.
 * `flush()` resolves once everything buffered before the call has been handed to the flush function.
 */
export class SerialFlusher {
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private queued?: Promise<void>;

  constructor(
    private readonly flushFn: () => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  flush(): Promise<void> {
    // A flush not yet started will pick up whatever is buffered now: share it.
    if (this.queued) return this.queued;
    const run = this.chain.then(async () => {
      this.queued = undefined;
      try {
        await this.flushFn();
      } catch (e) {
        this.onError(e);
      }
    });
    this.queued = run;
    this.chain = run;
    return run;
  }
}
