import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class TokenUsageDto {
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() completion_tokens: number;
  @ApiProperty() total_tokens: number;
}

export class SecurityInfoDto {
  @ApiProperty() input_validated: boolean;
  @ApiProperty() code_validated: boolean;
  @ApiProperty() threat_detected: boolean;
  @ApiProperty({ type: [String] }) input_rules: string[];
  @ApiProperty({ type: [String] }) code_rules: string[];
  @ApiProperty({ enum: ['off', 'standard', 'strict'] }) safety_level: string;
}

export class GenerateCodeResponseDto {
  @ApiProperty() success: boolean;
  @ApiProperty() status: string;
  @ApiProperty() generated_code: string;
  @ApiProperty() explanation: string;
  @ApiProperty({ description: 'Adapter that answered' }) model_used: string;
  @ApiProperty({ description: 'Seconds' }) processing_time: number;
  @ApiProperty() response_time_ms: number;
  @ApiProperty({ type: TokenUsageDto }) token_usage: TokenUsageDto;
  @ApiProperty() cached: boolean;
  @ApiProperty() request_id: string;
  @ApiProperty() completion_id: string;
  @ApiProperty() timestamp: string;
  @ApiProperty() error_message: string;
  @ApiProperty({ type: SecurityInfoDto }) security_info: SecurityInfoDto;
}

export class CompletionDto {
  @ApiProperty() code: string;
  @ApiProperty() label: string;
  @ApiProperty() description: string;
  @ApiProperty() confidence: number;
}

export class CompleteCodeResponseDto {
  @ApiProperty() success: boolean;
  @ApiProperty() status: string;
  @ApiProperty({ type: [CompletionDto] }) completions: CompletionDto[];
  @ApiProperty() processing_time: number;
  @ApiProperty() cached: boolean;
  @ApiProperty() completion_id: string;
  @ApiProperty() model_used: string;
  @ApiPropertyOptional({ type: TokenUsageDto }) token_usage?: TokenUsageDto;
}
