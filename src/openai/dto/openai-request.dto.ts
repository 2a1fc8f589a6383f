import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateNested,
  ValidationOptions,
} from 'class-validator';

const MAX_STOP = 64;

/** `stop`: one string or an array of strings (no cap of 4: vLLM takes more). */
function IsStop(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isStop',
      validator: {
        validate: (v: unknown) =>
          (typeof v === 'string' && v.length <= 200) ||
          (Array.isArray(v) && v.length <= MAX_STOP && v.every((s) => typeof s === 'string' && s.length <= 200)),
        defaultMessage: () => `stop must be a string or an array of at most ${MAX_STOP} strings`,
      },
    },
    options,
  );
}

/** `prompt` must be one string: arrays of prompts and token ids are refused. */
function IsPromptString(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isPromptString',
      validator: {
        validate: (v: unknown) => typeof v === 'string',
        defaultMessage: () => 'prompt must be a string (arrays of prompts and token ids are not supported)',
      },
    },
    options,
  );
}

export class StreamOptionsDto {
  @ApiPropertyOptional({ description: 'Send a usage chunk (choices: []) before [DONE]' })
  @IsOptional()
  @IsBoolean()
  include_usage?: boolean;
}

/** Ollama-style bodies some clients send: `options.num_predict` fills `max_tokens` when that is absent. */
export class OllamaOptionsDto {
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(1) @Max(32768) num_predict?: number;
}

/** Sampling shared by every generation route, vLLM's extras included (passed through untouched). */
export class OpenAiSamplingDto {
  @ApiProperty({
    example: 'hapa-code',
    description: 'hapa-code, hapa-autocomplete, hapa-explain, hapa-bugfix or an alias',
  })
  @IsString()
  @MaxLength(200)
  model: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 32768 }) @IsOptional() @IsInt() @Min(1) @Max(32768) max_tokens?: number;
  @ApiPropertyOptional({ minimum: 1, maximum: 32768, description: 'Newer name of max_tokens' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(32768)
  max_completion_tokens?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 2 }) @IsOptional() @IsNumber() @Min(0) @Max(2) temperature?: number;
  @ApiPropertyOptional({ minimum: 0, exclusiveMinimum: true, maximum: 1 })
  @IsOptional()
  @IsNumber()
  @IsPositive()
  @Max(1)
  top_p?: number;

  @ApiPropertyOptional({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })
  @IsOptional()
  @IsStop()
  stop?: string | string[];

  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() stream?: boolean;

  @ApiPropertyOptional({ type: StreamOptionsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => StreamOptionsDto)
  stream_options?: StreamOptionsDto;

  @ApiPropertyOptional({ enum: [1], description: 'One choice only' }) @IsOptional() @IsIn([1]) n?: number;
  @ApiPropertyOptional({ enum: [1], description: 'One candidate only' })
  @IsOptional()
  @IsIn([1], { message: 'best_of must be 1: the gateway generates one candidate' })
  best_of?: number;
  @ApiPropertyOptional() @IsOptional() @IsInt() seed?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) user?: string;
  @ApiPropertyOptional() @IsOptional() @IsNumber() @Min(-2) @Max(2) presence_penalty?: number;
  @ApiPropertyOptional() @IsOptional() @IsNumber() @Min(-2) @Max(2) frequency_penalty?: number;

  @ApiPropertyOptional({ description: 'vLLM: -1 disables' }) @IsOptional() @IsInt() @Min(-1) top_k?: number;
  @ApiPropertyOptional({ description: 'vLLM' }) @IsOptional() @IsNumber() @Min(0) @Max(1) min_p?: number;
  @ApiPropertyOptional({ description: 'vLLM' })
  @IsOptional()
  @IsNumber()
  @IsPositive()
  @Max(10)
  repetition_penalty?: number;
  @ApiPropertyOptional({ description: 'vLLM' }) @IsOptional() @IsInt() @Min(0) @Max(32768) min_tokens?: number;
  @ApiPropertyOptional({ description: 'vLLM', type: [Number] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_STOP)
  @IsInt({ each: true })
  @Min(0, { each: true })
  stop_token_ids?: number[];
  @ApiPropertyOptional({ description: 'vLLM (FIM markers are removed all the same)' })
  @IsOptional()
  @IsBoolean()
  include_stop_str_in_output?: boolean;
  @ApiPropertyOptional({ description: 'vLLM' }) @IsOptional() @IsBoolean() skip_special_tokens?: boolean;

  @ApiPropertyOptional({ type: OllamaOptionsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OllamaOptionsDto)
  options?: OllamaOptionsDto;
}

/** POST /v1/completions (and /v1/fim/completions). */
export class CompletionRequestDto extends OpenAiSamplingDto {
  @ApiProperty({
    example: '<fim_prefix>def add(a, b):\n    <fim_suffix>\n\nprint(add(1, 2))<fim_middle>',
    description: 'One string: plain text, a prefix (with `suffix`), or a prompt in a known FIM format',
  })
  @IsPromptString()
  prompt: string;

  @ApiPropertyOptional({ example: '\n\nprint(add(1, 2))', description: 'Code after the cursor (fill-in-the-middle)' })
  @IsOptional()
  @IsString()
  suffix?: string;

  @ApiPropertyOptional({ enum: [false] }) @IsOptional() @IsIn([false]) echo?: boolean;
  @ApiPropertyOptional({ minimum: 0, maximum: 5 }) @IsOptional() @IsInt() @Min(0) @Max(5) logprobs?: number;
}

export class ChatMessageDto {
  @ApiProperty({ enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'] }) role: string;
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      { type: 'array', items: { type: 'object', properties: { type: { enum: ['text'] }, text: { type: 'string' } } } },
    ],
  })
  content: string | { type: 'text'; text: string }[];
}

const NO_LOGPROBS = 'the gateway returns no log probabilities';

/** POST /v1/chat/completions. */
export class ChatCompletionRequestDto extends OpenAiSamplingDto {
  @ApiProperty({
    type: [ChatMessageDto],
    example: [{ role: 'user', content: 'Write a function that reverses a list' }],
  })
  @Allow()
  messages: unknown;

  @ApiPropertyOptional({ description: 'Accepted and ignored (agent clients send them on every request)' })
  @IsOptional()
  @IsArray()
  tools?: unknown[];

  @ApiPropertyOptional({
    description:
      '"required", a named function or allowed_tools in required mode → 400 tools_not_supported; otherwise ignored',
  })
  @Allow()
  tool_choice?: unknown;

  @ApiPropertyOptional({ description: 'Legacy tools: accepted and ignored' })
  @IsOptional()
  @IsArray()
  functions?: unknown[];

  @ApiPropertyOptional({
    description: 'Legacy tool_choice: a named function → 400 tools_not_supported; "auto", "none" ignored',
  })
  @Allow()
  function_call?: unknown;

  @ApiPropertyOptional({ enum: [false] })
  @IsOptional()
  @IsIn([false], { message: `logprobs must be false: ${NO_LOGPROBS}` })
  logprobs?: boolean;

  @ApiPropertyOptional({ enum: [0] })
  @IsOptional()
  @IsIn([0], { message: `top_logprobs must be 0: ${NO_LOGPROBS}` })
  top_logprobs?: number;
}
