import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class OpenAiModelDto {
  @ApiProperty({ example: 'hapa-code' }) id: string;
  @ApiProperty({ enum: ['model'] }) object: 'model';
  @ApiProperty({ example: 1796000000 }) created: number;
  @ApiProperty({ example: 'hapa' }) owned_by: 'hapa';
  @ApiProperty({ example: 16384, description: 'Context length of the base model (clients read it as such)' })
  max_model_len: number;
}

export class OpenAiModelListDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [OpenAiModelDto] }) data: OpenAiModelDto[];
}

export class OpenAiUsageDto {
  @ApiProperty({ example: 42 }) prompt_tokens: number;
  @ApiProperty({ example: 17 }) completion_tokens: number;
  @ApiProperty({ example: 59 }) total_tokens: number;
}

export class CompletionChoiceDto {
  @ApiProperty({ example: 0 }) index: number;
  @ApiProperty({ example: 'return a + b' }) text: string;
  @ApiProperty({ nullable: true, type: Object, example: null }) logprobs: null;
  @ApiProperty({ enum: ['stop', 'length'] }) finish_reason: 'stop' | 'length';
}

export class CompletionResponseDto {
  @ApiProperty({ example: 'cmpl-0f8e6c9a3b1d4c2e9a7b5d4e3f2a1b0c' }) id: string;
  @ApiProperty({ enum: ['text_completion'] }) object: 'text_completion';
  @ApiProperty({ example: 1796000000 }) created: number;
  @ApiProperty({ example: 'hapa-autocomplete', description: 'The name the client sent' }) model: string;
  @ApiProperty({ type: [CompletionChoiceDto] }) choices: CompletionChoiceDto[];
  @ApiProperty({ type: OpenAiUsageDto }) usage: OpenAiUsageDto;
}

export class ChatMessageOutDto {
  @ApiProperty({ enum: ['assistant'] }) role: 'assistant';
  @ApiProperty({ example: 'def reverse(items):\n    return items[::-1]' }) content: string;
}

export class ChatChoiceDto {
  @ApiProperty({ example: 0 }) index: number;
  @ApiProperty({ type: ChatMessageOutDto }) message: ChatMessageOutDto;
  @ApiProperty({ nullable: true, type: Object, example: null }) logprobs: null;
  @ApiProperty({ enum: ['stop', 'length'] }) finish_reason: 'stop' | 'length';
}

export class ChatCompletionResponseDto {
  @ApiProperty({ example: 'chatcmpl-0f8e6c9a3b1d4c2e9a7b5d4e3f2a1b0c' }) id: string;
  @ApiProperty({ enum: ['chat.completion'] }) object: 'chat.completion';
  @ApiProperty({ example: 1796000000 }) created: number;
  @ApiProperty({ example: 'hapa-code' }) model: string;
  @ApiProperty({ type: [ChatChoiceDto] }) choices: ChatChoiceDto[];
  @ApiProperty({ type: OpenAiUsageDto }) usage: OpenAiUsageDto;
}

export class OpenAiErrorDetailDto {
  @ApiProperty({ example: 'The model `gpt-4o` does not exist.' }) message: string;
  @ApiProperty({
    enum: ['invalid_request_error', 'authentication_error', 'permission_error', 'rate_limit_error', 'server_error'],
  })
  type: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'model' }) param: string | null;
  @ApiProperty({ example: 'model_not_found', description: 'OpenAI-style code or the HAPA catalogue code' })
  code: string;
  @ApiProperty({ example: 'INC-20261130-9F3A1C07' }) incident_id: string;
}

/** Every /v1 error. */
export class OpenAiErrorResponseDto {
  @ApiProperty({ type: OpenAiErrorDetailDto }) error: OpenAiErrorDetailDto;
}
