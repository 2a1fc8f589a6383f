import { Body, Controller, Get, HttpCode, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Observable } from 'rxjs';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { CodeGenService } from './code-gen.service';
import { CompleteCodeResponseDto, GenerateCodeResponseDto } from './dto/code-gen.responses';
import { CompleteCodeDto } from './dto/complete-code.dto';
import { GenerateCodeDto } from './dto/generate-code.dto';
import { SSE_ROUTES, SseItem } from './sse';
import { SseInterceptor } from './sse.interceptor';

@ApiTags('code generation')
@Controller()
export class CodeGenController {
  constructor(private readonly codeGen: CodeGenService) {}

  @Post(['code/generate', 'generate-code'])
  @HttpCode(200)
  @Authenticated({ permission: 'code_generation' })
  @ApiOkResponse({ type: GenerateCodeResponseDto })
  generate(
    @Body() dto: GenerateCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<GenerateCodeResponseDto> {
    return this.codeGen.generate(dto, principal, req, res);
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
    return this.codeGen.stream(dto, principal, req, res);
  }

  @Post('code/complete')
  @HttpCode(200)
  @Authenticated({ permission: 'code_completion' })
  @ApiOkResponse({ type: CompleteCodeResponseDto })
  complete(
    @Body() dto: CompleteCodeDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<CompleteCodeResponseDto> {
    return this.codeGen.complete(dto, principal, req, res);
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
