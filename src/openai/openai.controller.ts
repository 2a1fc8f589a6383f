import { Body, Controller, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Authenticated, AuthOptions, Principal } from '../common/auth/authenticated.decorator';
import { AppRequest, AuthPrincipal } from '../common/http/app-request';
import { ChatCompletionRequestDto, CompletionRequestDto } from './dto/openai-request.dto';
import {
  ChatCompletionResponseDto,
  CompletionResponseDto,
  OpenAiErrorResponseDto,
  OpenAiModelDto,
  OpenAiModelListDto,
} from './dto/openai-response.dto';
import { OpenAiResponder } from './openai.responder';
import { OpenAiService } from './openai.service';

const GENERATE: AuthOptions = { permission: ['code_generation', 'code_completion'] };
const STREAM_NOTE =
  'With `stream: true`: `text/event-stream` of chunks, the usage chunk (`choices: []`) when ' +
  '`stream_options.include_usage`, then `data: [DONE]`; `: keep-alive` comments fill silences (the wait for the first ' +
  'token included); a failure once the stream has started is `data: {"error":{...}}` then `[DONE]`.';

/** The OpenAI-compatible surface (openai.md), mounted at the root: clients append /models, /completions... to `<base>/v1`. */
@ApiTags('OpenAI-compatible (/v1)')
@ApiExtraModels(OpenAiErrorResponseDto)
@Controller('v1')
export class OpenAiController {
  constructor(
    private readonly openai: OpenAiService,
    private readonly responder: OpenAiResponder,
  ) {}

  @Get('models')
  @Authenticated()
  @ApiOperation({ summary: 'The gateway models this key may use (hapa-code first)' })
  @ApiOkResponse({ type: OpenAiModelListDto })
  models(@Principal() principal: AuthPrincipal | undefined): Promise<OpenAiModelListDto> {
    return this.openai.listModels(principal);
  }

  @Get('models/:model')
  @Authenticated()
  @ApiOperation({ summary: 'One model (404 model_not_found for a name the gateway does not serve)' })
  @ApiOkResponse({ type: OpenAiModelDto })
  model(@Param('model') name: string, @Principal() principal: AuthPrincipal | undefined): Promise<OpenAiModelDto> {
    return this.openai.model(name, principal);
  }

  @Post('completions')
  @HttpCode(200)
  @Authenticated(GENERATE)
  @ApiOperation({
    summary: 'Completion and inline autocomplete; fill-in-the-middle from `suffix` or any of six FIM formats',
    description: STREAM_NOTE,
  })
  @ApiBody({
    type: CompletionRequestDto,
    examples: {
      suffix: {
        value: {
          model: 'hapa-autocomplete',
          prompt: 'def add(a, b):\n    ',
          suffix: '\n\nprint(add(1, 2))',
          max_tokens: 64,
        },
      },
      starcoderFim: {
        value: {
          model: 'hapa-autocomplete',
          prompt: '<fim_prefix>def add(a, b):\n    <fim_suffix>\n<fim_middle>',
          stream: true,
        },
      },
    },
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: CompletionResponseDto })
  completions(
    @Body() dto: CompletionRequestDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res() res: Response,
  ): Promise<void> {
    return this.responder.reply(req, res, this.openai.completion(dto, principal, req.body));
  }

  @Post('fim/completions')
  @HttpCode(200)
  @Authenticated(GENERATE)
  @ApiOperation({
    summary: 'Fill-in-the-middle (Mistral/DeepSeek style): `prompt` is the prefix; streams in the chat-chunk shape',
    description: STREAM_NOTE,
  })
  @ApiBody({
    type: CompletionRequestDto,
    examples: {
      fim: { value: { model: 'hapa-autocomplete', prompt: 'def add(a, b):\n    ', suffix: '\n', stream: true } },
    },
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: CompletionResponseDto })
  fim(
    @Body() dto: CompletionRequestDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res() res: Response,
  ): Promise<void> {
    return this.responder.reply(req, res, this.openai.completion(dto, principal, req.body, true));
  }

  @Post('chat/completions')
  @HttpCode(200)
  @Authenticated(GENERATE)
  @ApiOperation({
    summary: 'Chat, rendered in the adapters’ own format; tools are ignored unless a call is required (400)',
    description: STREAM_NOTE,
  })
  @ApiBody({
    type: ChatCompletionRequestDto,
    examples: {
      chat: {
        value: {
          model: 'hapa-code',
          messages: [{ role: 'user', content: 'Write a function that reverses a list' }],
          stream: true,
          stream_options: { include_usage: true },
        },
      },
    },
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({ type: ChatCompletionResponseDto })
  chat(
    @Body() dto: ChatCompletionRequestDto,
    @Principal() principal: AuthPrincipal | undefined,
    @Req() req: AppRequest,
    @Res() res: Response,
  ): Promise<void> {
    return this.responder.reply(req, res, this.openai.chat(dto, principal, req.body));
  }
}
