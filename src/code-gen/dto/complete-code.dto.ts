import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { MAX_CONTEXT_CHARS } from './generate-code.dto';

/** POST /code/complete: fill in the middle at the cursor. */
export class CompleteCodeDto {
  @ApiProperty({ description: 'Code before the cursor', maxLength: MAX_CONTEXT_CHARS })
  @IsString()
  @MaxLength(MAX_CONTEXT_CHARS)
  prefix: string;

  @ApiPropertyOptional({ description: 'Code after the cursor', maxLength: MAX_CONTEXT_CHARS })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_CONTEXT_CHARS)
  suffix?: string;

  @ApiPropertyOptional({ default: 'python' }) @IsOptional() @IsString() @MaxLength(50) language?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(MAX_CONTEXT_CHARS) context?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 10, default: 3 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  max_suggestions?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 512, default: 64 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(512)
  max_tokens?: number;
}
