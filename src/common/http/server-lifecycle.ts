import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import type { Server } from 'node:http';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-codes';

/**
 * Tracks in-flight requests (streams included) so SIGTERM can stop accepting work, let what is
 * running finish up to SHUTDOWN_TIMEOUT, then close the rest.
 */
@Injectable()
export class ServerLifecycle {
  private inFlight = 0;
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  private readonly deadlineListeners: (() => void)[] = [];

  get activeRequests(): number {
    return this.inFlight;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Counts a new request in, or refuses it (E5008) while draining. */
  admit(res: Response): void {
    if (this.draining) {
      res.setHeader('Connection', 'close');
      throw new AppException(ErrorCode.E5008, { message: 'Server is shutting down' });
    }
    this.inFlight++;
  }

  /** Response closed (finished or aborted). */
  readonly onClose = (): void => {
    if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  };

  /** Streams register here to end with an in-band error if the deadline passes. */
  onDeadline(listener: () => void): () => void {
    this.deadlineListeners.push(listener);
    return () => {
      const i = this.deadlineListeners.indexOf(listener);
      if (i >= 0) this.deadlineListeners.splice(i, 1);
    };
  }

  /** Stops accepting connections and waits for in-flight requests; returns true if all finished in time. */
  async drain(server: Server, timeoutMs: number): Promise<boolean> {
    this.draining = true;
    server.close();
    server.closeIdleConnections();
    const idle = this.inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => this.idleWaiters.push(r));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      idle.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!finished) {
      for (const l of this.deadlineListeners.splice(0)) l();
      await new Promise((r) => setTimeout(r, 50)); // let in-band error events flush
    }
    server.closeAllConnections();
    return finished;
  }
}
