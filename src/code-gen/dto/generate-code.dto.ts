import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  ERROR_HANDLING_PREFERENCES,
  EXPLANATION_STYLES,
  LANGUAGE_FEATURES,
  OUTPUT_STRUCTURES,
  PROJECT_CONTEXTS,
  SKILL_LEVELS,
  UserPreferences,
} from '../../common/ports/user-preferences.port';
import { TASKS } from '../../config/env.schema';

export const MAX_PROMPT_CHARS = 4000;
export const MAX_CONTEXT_CHARS = 16000;
const NOT_BLANK = /\S/;

/** The seeds' nested personalisation (spec §4 values). */
export class UserProfileDto implements UserPreferences {
  @ApiPropertyOptional({ enum: SKILL_LEVELS })
  @IsOptional()
  @IsIn(SKILL_LEVELS)
  pythonSkillLevel?: UserPreferences['pythonSkillLevel'];
  @ApiPropertyOptional({ enum: OUTPUT_STRUCTURES })
  @IsOptional()
  @IsIn(OUTPUT_STRUCTURES)
  codeOutputStructure?: UserPreferences['codeOutputStructure'];
  @ApiPropertyOptional({ enum: EXPLANATION_STYLES })
  @IsOptional()
  @IsIn(EXPLANATION_STYLES)
  explanationStyle?: UserPreferences['explanationStyle'];
  @ApiPropertyOptional({ enum: LANGUAGE_FEATURES, isArray: true })
  @IsOptional()
  @IsArray()
  @IsIn(LANGUAGE_FEATURES, { each: true })
  preferredLanguageFeatures?: UserPreferences['preferredLanguageFeatures'];
  @ApiPropertyOptional({ enum: PROJECT_CONTEXTS })
  @IsOptional()
  @IsIn(PROJECT_CONTEXTS)
  projectContext?: UserPreferences['projectContext'];
  @ApiPropertyOptional({ enum: ERROR_HANDLING_PREFERENCES })
  @IsOptional()
  @IsIn(ERROR_HANDLING_PREFERENCES)
  errorHandlingPreference?: UserPreferences['errorHandlingPreference'];
}

/** Body of both generate routes: the extension's and the seeds' field names (unknown fields are dropped). */
export class GenerateCodeDto {
  @ApiPropertyOptional({
    description: 'What to generate (the extension sends this)',
    maxLength: MAX_PROMPT_CHARS,
    example: 'Write a function that adds two numbers',
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_PROMPT_CHARS)
  @Matches(NOT_BLANK, { message: 'prompt must not be blank' })
  prompt?: string;

  @ApiPropertyOptional({ description: "The seeds' name for prompt" })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_PROMPT_CHARS)
  @Matches(NOT_BLANK, { message: 'user_question must not be blank' })
  user_question?: string;

  @ApiPropertyOptional({ maxLength: MAX_CONTEXT_CHARS })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_CONTEXT_CHARS)
  context?: string;
  @ApiPropertyOptional({ maxLength: MAX_CONTEXT_CHARS })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_CONTEXT_CHARS)
  code_context?: string;

  @ApiPropertyOptional({ enum: TASKS, default: 'code_generation' })
  @IsOptional()
  @IsIn(TASKS)
  model_type?: (typeof TASKS)[number];

  @ApiPropertyOptional({ default: 'python' }) @IsOptional() @IsString() @MaxLength(50) language?: string;

  @ApiPropertyOptional({ minimum: 0, maximum: 2, default: 0.3 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(2)
  temperature?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, default: 0.95 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  top_p?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 4096, default: 1024 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  max_tokens?: number;

  @ApiPropertyOptional({ type: UserProfileDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => UserProfileDto)
  user_profile?: UserProfileDto;

  // The extension's flat personalisation fields.
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(50) programming_level?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(50) explanation_detail?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(100) code_style?: string;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() include_comments?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() include_docstring?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsBoolean() include_type_hints?: boolean;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) project_context?: string;

  @ApiPropertyOptional({ default: true, description: 'false: skip the response cache (always a fresh generation)' })
  @IsOptional()
  @IsBoolean()
  cache?: boolean;
}
