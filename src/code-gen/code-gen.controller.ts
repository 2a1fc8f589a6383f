import { Body, Controller, Get, HttpCode, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Observable } from 'rxjs';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { clientSignal, drainedOrClosed } from '../common/http/request-pipeline';
import { annotateUsage, UsageAnnotation } from '../common/ports/usage-annotation';
import { CallContext, CodeGenService } from './code-gen.service';
import { CompleteCodeResponseDto, GenerateCodeResponseDto } from './dto/code-gen.responses';
import { CompleteCodeDto } from './dto/complete-code.dto';
import { GenerateCodeDto } from './dto/generate-code.dto';
import { SSE_ROUTES, SseItem } from './sse';
import { SseInterceptor } from './sse.interceptor';

/**
 * The HAPA front door: HTTP in, the HAPA service's answer out. One-shot routes reply JSON; the
 * stream route emits SseItems that SseInterceptor frames, with the socket's backpressure passed
 * back to the generation core.
 */
@ApiTags('code generation')
@Controller()
export class CodeGenController {
  constructor(private readonly codeGen: CodeGenService) {}

  @Post(['code/generate', 'generate-code'])
  @HttpCode(200)
  @Authenticated({ permission: 'code_generation' })
  @ApiOkResponse({ type: GenerateCodeResponseDto })
  async generate(
    @Body() dto: GenerateCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<GenerateCodeResponseDto> {
    const answer = await this.codeGen.generate(dto, principal, context(req, res));
    recordOneShot(req, res, answer.usage);
    return answer.body;
  }

  @Post(SSE_ROUTES)
  @HttpCode(200)
  @Authenticated({ permission: 'code_generation' })
  @UseInterceptors(SseInterceptor)
  @ApiQuery({ name: 'enhanced', required: false, type: Boolean })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'SSE: start, token..., done, [DONE] (spec §2 streaming wire format)' })
  stream(
    @Body() dto: GenerateCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res() res: Response,
  ): Observable<SseItem> {
    return new Observable<SseItem>((sub) => {
      // Unsubscribing (client gone, shutdown deadline) aborts like a disconnect does.
      const teardown = new AbortController();
      const ctx = { ...context(req, res), signal: AbortSignal.any([clientSignal(res), teardown.signal]) };
      this.codeGen
        .stream(dto, principal, ctx, {
          begin: (info) => sub.next({ type: 'start', cached: info.cached }),
          write(delta) {
            sub.next(delta); // the interceptor writes the frame synchronously
            return !res.writableNeedDrain;
          },
          drained: () => drainedOrClosed(res),
        })
        .then(({ done, usage }) => {
          annotateUsage(res, usage);
          sub.next(done);
          sub.complete();
        })
        .catch((e: unknown) => sub.error(e));
      return () => teardown.abort();
    });
  }

  @Post('code/complete')
  @HttpCode(200)
  @Authenticated({ permission: 'code_completion' })
  @ApiOkResponse({ type: CompleteCodeResponseDto })
  async complete(
    @Body() dto: CompleteCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CompleteCodeResponseDto> {
    const answer = await this.codeGen.complete(dto, principal, context(req, res));
    recordOneShot(req, res, answer.usage);
    return answer.body;
  }

  @Get('code/models')
  @Authenticated()
  models(): Promise<Record<string, unknown>> {
    return this.codeGen.listModels();
  }

  @Get('code/health')
  health(): Promise<{ status: 'healthy' | 'unhealthy'; details: unknown }> {
    return this.codeGen.health();
  }
}

function context(req: AppRequest, res: Response): CallContext {
  return { requestId: req.id, startedAt: req.startedAt, signal: clientSignal(res) };
}

/** The usage event, and the gateway's own share of the time (everything but waiting on the model server). */
function recordOneShot(req: AppRequest, res: Response, usage: UsageAnnotation): void {
  annotateUsage(res, usage);
  const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
  res.setHeader('X-HAPA-Overhead-Ms', Math.max(0, elapsedMs - (usage.upstreamMs ?? 0)).toFixed(2));
}
