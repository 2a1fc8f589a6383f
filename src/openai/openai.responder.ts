import { Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { reportException } from '../common/errors/all-exceptions.filter';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { ErrorReporter } from '../common/errors/error-reporter';
import { streamErrorFrames, toOpenAiError } from '../common/errors/openai-errors';
import { AppRequest } from '../common/http/app-request';
import { callContext } from '../common/http/request-pipeline';
import { ServerLifecycle } from '../common/http/server-lifecycle';
import { SseResponse } from '../common/http/sse-response';
import { CallContext } from '../common/ports/call-context';
import { annotateUsage } from '../common/ports/usage-annotation';
import { ClientGoneError, ClientStalledError } from '../generation/generation.errors';
import { AppConfig } from '../config/app-config';
import { ChunkFramer, SSE_DONE, SSE_KEEP_ALIVE } from './openai-sse';
import { OpenAiCall, OpenAiService } from './openai.service';

/**
 * The HTTP side of a `/v1` generation: the JSON answer, or the SSE stream of chunks (headers with the
 * first chunk or the first `: keep-alive`, the socket's backpressure passed back to the core, the finish
 * and usage chunks, [DONE]). An error before the headers goes to the exception filter (OpenAI's JSON
 * envelope); after them, it is an in-stream error frame then [DONE]. A forced shutdown ends the answer like a disconnect does,
 * but the client still learns why (E5008).
 */
@Injectable()
export class OpenAiResponder {
  private readonly keepAliveMs: number;

  constructor(
    private readonly openai: OpenAiService,
    private readonly lifecycle: ServerLifecycle,
    private readonly reporter: ErrorReporter,
    config: AppConfig,
  ) {
    this.keepAliveMs = config.codeGen.heartbeatMs;
  }

  async reply(req: AppRequest, res: Response, call: OpenAiCall): Promise<void> {
    const shutdown = new AbortController();
    const unregister = this.lifecycle.onDeadline(() => shutdown.abort());
    const ctx = callContext(req, res, shutdown.signal);
    try {
      if (call.stream) return await this.stream(res, call, ctx);
      const answer = await this.openai.answer(call, ctx);
      annotateUsage(res, answer.usage);
      res.status(200).json(answer.body);
    } catch (e) {
      const shuttingDown = shutdown.signal.aborted;
      const error = shuttingDown ? new AppException(ErrorCode.E5008, { message: 'Server is shutting down' }) : e;
      if (error instanceof ClientGoneError || (ctx.signal.aborted && !shuttingDown)) {
        // Nobody is left to answer; the core aborted the upstream call unless others wait on it.
        if (!res.writableEnded) res.end();
        return;
      }
      if (error instanceof ClientStalledError && res.headersSent) {
        // Nobody is reading: drop the connection rather than queue an error frame behind a full buffer.
        res.destroy();
        return;
      }
      if (!res.headersSent) throw error;
      // The stream has started: the error goes in-band, then [DONE], so clients raise instead of keeping a truncated answer.
      const { mapped, incidentId } = reportException(this.reporter, req, error);
      const openAiError = toOpenAiError(mapped);
      annotateUsage(res, { inBandErrorStatus: openAiError.status });
      res.end(streamErrorFrames(openAiError, incidentId));
    } finally {
      unregister();
    }
  }

  private async stream(res: Response, call: OpenAiCall, ctx: CallContext): Promise<void> {
    // Keep-alives from the start: a long time to first token would otherwise be complete silence.
    const sse = new SseResponse(res, { frame: SSE_KEEP_ALIVE, afterMs: this.keepAliveMs, beforeFirstFrame: true });
    try {
      const framer = new ChunkFramer(call.shape, call.id, call.created, call.model);
      const { outcome, usage } = await this.openai.stream(call, ctx, {
        write: (delta) => sse.write(framer.token(delta)),
        drained: () => sse.drained(),
      });
      annotateUsage(res, usage);
      let tail = framer.finish(outcome.finishReason);
      if (call.includeUsage) tail += framer.usage(outcome.usage);
      sse.end(tail + SSE_DONE);
    } finally {
      sse.stop();
    }
  }
}
