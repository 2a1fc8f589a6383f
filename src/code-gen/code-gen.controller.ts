import { Body, Controller, Get, HttpCode, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Observable } from 'rxjs';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { callContext, drainedOrClosed } from '../common/http/request-pipeline';
import { annotateUsage, UsageAnnotation } from '../common/ports/usage-annotation';
import { CodeGenService } from './code-gen.service';
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
const GENERATE_EXAMPLES = {
  simple: { summary: 'A prompt', value: { prompt: 'remove duplicates from a list' } },
  withContext: {
    summary: 'A bug fix with the code around it',
    value: {
      prompt: 'fix the off-by-one error',
      context: 'def last(items):\n    return items[len(items)]',
      model_type: 'bug_fix',
      max_tokens: 256,
      temperature: 0.2,
    },
  },
};

// What a client reads on the stream routes (spec §2), for the OpenAPI example.
const SSE_EXAMPLE =
  'data: {"type":"start","content":"","text":"","sequence":0,"timestamp":"2026-11-30T03:00:00.000Z","is_complete":false,"request_id":"5b0c7f1e-3c1a-4a7e-9d6f-2b8e1f0a9c11","cached":false}\n\ndata: {"type":"token","content":"def ","text":"def ","sequence":1,"timestamp":"2026-11-30T03:00:00.120Z","is_complete":false}\n\ndata: {"type":"token","content":"remove_duplicates(lst):","text":"remove_duplicates(lst):","sequence":2,"timestamp":"2026-11-30T03:00:00.140Z","is_complete":false}\n\ndata: {"type":"done","content":"","text":"","sequence":3,"timestamp":"2026-11-30T03:00:00.600Z","is_complete":true,"token_usage":{"prompt_tokens":42,"completion_tokens":2,"total_tokens":44}}\n\ndata: [DONE]\n\n';

@ApiTags('code generation')
@Controller()
export class CodeGenController {
  constructor(private readonly codeGen: CodeGenService) {}

  @Post(['code/generate', 'generate-code'])
  @HttpCode(200)
  @Authenticated({ permission: 'code_generation' })
  @ApiOperation({
    summary: 'Generate code (one-shot)',
    description:
      'Asks the model for code from prompt (or user_question) with optional context, model_type (task: code_generation, bug_fix, ...) and your profile, and returns the whole answer split into generated_code and explanation. Identical requests share one generation and are cached (cache: false opts out). POST /generate-code is the seeds alias. Spends the generation budget (DEFAULT_RATE_LIMIT).',
  })
  @ApiBody({ type: GenerateCodeDto, examples: GENERATE_EXAMPLES })
  @ApiOkResponse({ type: GenerateCodeResponseDto })
  async generate(
    @Body() dto: GenerateCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<GenerateCodeResponseDto> {
    const answer = await this.codeGen.generate(dto, principal, callContext(req, res));
    recordOneShot(req, res, answer.usage);
    return answer.body;
  }

  @Post(SSE_ROUTES)
  @HttpCode(200)
  @Authenticated({ permission: 'code_generation' })
  @UseInterceptors(SseInterceptor)
  @ApiQuery({ name: 'enhanced', required: false, type: Boolean })
  @ApiOperation({
    summary: 'Generate code as a stream (SSE)',
    description:
      'Same request as POST /code/generate; the answer arrives as Server-Sent Events, one `data: <JSON>` frame per event: start, token... (the delta in content and text), done with token_usage, then `data: [DONE]`. An error after the start is an in-band {"type":"error","error_code","incident_id"} frame then [DONE]; errors before it (auth, validation, rate limit) are JSON error responses that also carry type and content. Heartbeat frames keep a silent stream open. Closing the connection aborts the generation. Aliases: /enhanced-stream-generate, /code/enhanced-stream-generate. Spends the generation budget and one of the key’s MAX_CONCURRENT_STREAMS slots.',
  })
  @ApiBody({ type: GenerateCodeDto, examples: GENERATE_EXAMPLES })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'Server-Sent Events: start, token..., done, [DONE] (spec §2 streaming wire format)',
    content: { 'text/event-stream': { schema: { type: 'string' }, example: SSE_EXAMPLE } },
  })
  stream(
    @Body() dto: GenerateCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res() res: Response,
  ): Observable<SseItem> {
    return new Observable<SseItem>((sub) => {
      // Unsubscribing (client gone, shutdown deadline) aborts like a disconnect does.
      const teardown = new AbortController();
      const ctx = callContext(req, res, teardown.signal);
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
  @ApiOperation({
    summary: 'Autocomplete at the cursor',
    description:
      'Fill-in-the-middle completion from the code before (prefix) and after (suffix) the cursor, built into the autocomplete adapter’s FIM prompt (FIM_TEMPLATE). Returns up to max_suggestions completions. Spends the autocomplete budget (AUTOCOMPLETE_RATE_LIMIT), not the generation one.',
  })
  @ApiBody({
    type: CompleteCodeDto,
    examples: {
      function: {
        summary: 'Finish a function body',
        value: {
          prefix: 'def fibonacci(n):\n    ',
          suffix: '\n\nprint(fibonacci(10))',
          language: 'python',
          max_suggestions: 1,
        },
      },
    },
  })
  @ApiOkResponse({ type: CompleteCodeResponseDto })
  async complete(
    @Body() dto: CompleteCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CompleteCodeResponseDto> {
    const answer = await this.codeGen.complete(dto, principal, callContext(req, res));
    recordOneShot(req, res, answer.usage);
    return answer.body;
  }

  @Get('code/models')
  @Authenticated()
  @ApiOperation({
    summary: 'Models and adapters',
    description:
      'The base model and the LoRA adapters the healthy model servers serve, and which task uses which adapter.',
  })
  models(): Promise<Record<string, unknown>> {
    return this.codeGen.listModels();
  }

  @Get('code/health')
  @ApiOperation({
    summary: 'Model-server health',
    description: 'healthy when at least one model server passes its background probe, with each server’s state.',
  })
  health(): Promise<{ status: 'healthy' | 'unhealthy'; details: unknown }> {
    return this.codeGen.health();
  }
}

/** The usage event, and the gateway's own share of the time (everything but waiting on the model server). */
function recordOneShot(req: AppRequest, res: Response, usage: UsageAnnotation): void {
  annotateUsage(res, usage);
  const elapsedMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
  res.setHeader('X-HAPA-Overhead-Ms', Math.max(0, elapsedMs - (usage.upstreamMs ?? 0)).toFixed(2));
}
