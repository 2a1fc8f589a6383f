import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, Subscription } from 'rxjs';
import { reportException } from '../common/errors/all-exceptions.filter';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { ErrorReporter } from '../common/errors/error-reporter';
import { AppRequest } from '../common/http/app-request';
import { clientGone } from '../common/http/request-pipeline';
import { ServerLifecycle } from '../common/http/server-lifecycle';
import { SseResponse } from '../common/http/sse-response';
import { annotateUsage } from '../common/ports/usage-annotation';
import { AppConfig } from '../config/app-config';
import { ClientGoneError, ClientStalledError } from '../generation/generation.errors';
import { SSE_DONE_FRAME, SSE_HEARTBEAT_FRAME, SseFrameWriter, SseItem } from './sse';

/**
 * Turns a handler's Observable<SseItem> into the spec's SSE wire format: headers flushed with
 * the `start` event, one `data:` frame per write, `done` then `[DONE]`. Errors before the first
 * frame go to the exception filter (a normal JSON error); after it they are in-band error
 * events followed by `[DONE]`. Client disconnect unsubscribes (the handler aborts upstream);
 * heartbeats fill long silences; a forced shutdown ends the stream with an in-band E5008.
 */
@Injectable()
export class SseInterceptor implements NestInterceptor<SseItem, undefined> {
  private readonly heartbeatMs: number;

  constructor(
    private readonly lifecycle: ServerLifecycle,
    private readonly reporter: ErrorReporter,
    config: AppConfig,
  ) {
    this.heartbeatMs = config.codeGen.heartbeatMs;
  }

  intercept(ctx: ExecutionContext, next: CallHandler<SseItem>): Observable<undefined> {
    const req = ctx.switchToHttp().getRequest<AppRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    res.locals.sseErrorEnvelope = true;
    return new Observable<undefined>((outer) => {
      const writer = new SseFrameWriter();
      // From the start event on (the extension expects it first), heartbeats fill upstream silences.
      const sse = new SseResponse(res, {
        frame: SSE_HEARTBEAT_FRAME,
        afterMs: this.heartbeatMs,
        beforeFirstFrame: false,
      });
      let cached = false;
      let finished = false;
      let sub: Subscription | undefined;
      let unregister: () => void = () => undefined;
      // Client gone: unsubscribing tears down the handler, which aborts the upstream request.
      const onClose = (): void => {
        if (finished) return;
        finished = true;
        sse.stop();
        unregister();
        sub?.unsubscribe();
        outer.next(undefined);
        outer.complete();
      };
      res.on('close', onClose);
      // Left while guards and pipes ran: the close event is past, so nothing would abort the upstream call.
      if (clientGone(res)) {
        onClose();
        return;
      }

      const start = (): void => {
        sse.write(writer.start(req.id, cached));
      };
      const finish = (): void => {
        finished = true;
        sse.stop();
        unregister();
        res.off('close', onClose);
        if (!res.writableEnded) res.end();
        outer.next(undefined);
        outer.complete();
      };
      const inBandError = (exception: unknown): void => {
        const { mapped, incidentId } = reportException(this.reporter, req, exception);
        annotateUsage(res, { inBandErrorStatus: mapped.status });
        if (!sse.started) start();
        sse.write(writer.error(mapped.code, mapped.message, incidentId));
        sse.write(SSE_DONE_FRAME);
        finish();
      };

      unregister = this.lifecycle.onDeadline(() => {
        if (finished) return;
        sub?.unsubscribe();
        inBandError(new AppException(ErrorCode.E5008, { message: 'Server is shutting down' }));
      });
      sub = next.handle().subscribe({
        next: (item) => {
          if (finished) return;
          if (typeof item !== 'string' && item.type === 'start') {
            cached = item.cached;
            return;
          }
          if (!sse.started) start();
          sse.write(typeof item === 'string' ? writer.token(item) : writer.done(item));
        },
        error: (e: unknown) => {
          if (finished) return;
          if (e instanceof ClientGoneError) return finish();
          if (e instanceof ClientStalledError) {
            // Nobody is reading: drop the connection rather than queue an error frame behind a full buffer.
            res.destroy();
            return finish();
          }
          if (sse.started) return inBandError(e);
          finished = true;
          sse.stop();
          unregister();
          res.off('close', onClose);
          outer.error(e);
        },
        complete: () => {
          if (finished) return;
          if (!sse.started) start();
          sse.write(SSE_DONE_FRAME);
          finish();
        },
      });
      return () => {
        sse.stop();
        sub?.unsubscribe();
      };
    });
  }
}
