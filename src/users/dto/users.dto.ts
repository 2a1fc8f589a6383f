import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsObject,
  IsOptional,
  Max,
  Min,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';

import { isStorableText } from '../../common/validation/storable-text';

const MAX_DEPTH = 16;

/** jsonb cannot hold U+0000 or unpaired surrogates (in values or keys); everything else is stored verbatim. */
function storableJson(value: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  if (typeof value === 'string') return isStorableText(value);
  if (Array.isArray(value)) return value.every((v) => storableJson(v, depth + 1));
  if (value && typeof value === 'object') {
    return Object.entries(value).every(([k, v]) => isStorableText(k) && storableJson(v, depth + 1));
  }
  return true;
}

const IsStorableJson = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isStorableJson',
      validator: {
        validate: (v: unknown) => storableJson(v),
        defaultMessage: () =>
          `$property must not contain NUL characters or unpaired UTF-16 surrogates, or nest deeper than ${MAX_DEPTH} levels`,
      },
    },
    options,
  );

const INT32 = { min: -2_147_483_648, max: 2_147_483_647 };

export class ProfileDto {
  @ApiProperty({
    description: 'Onboarding answers, stored as sent (pythonSkillLevel, codeOutputStructure, explanationStyle, ...)',
    example: { pythonSkillLevel: 'intermediate', codeOutputStructure: 'standard', explanationStyle: 'standard' },
  })
  @IsObject()
  @IsStorableJson()
  profile_data: Record<string, unknown>;

  @ApiPropertyOptional({ type: [Number], description: "The extension's own option numbering; stored as sent" })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(200)
  @IsInt({ each: true })
  @Min(INT32.min, { each: true })
  @Max(INT32.max, { each: true })
  settings_mapping?: number[];
}

export class ProfileResponseDto {
  @ApiProperty() user_id: string;
  @ApiProperty() profile_data: Record<string, unknown>;
  @ApiProperty({ type: [Number] }) settings_mapping: number[];
  @ApiPropertyOptional({ nullable: true, type: String }) updated_at: string | null;
}

export class SettingsDto {
  @ApiProperty({ type: [Number], example: [2, 4, 7], description: 'Option ids (spec §4): one per setting type' })
  @IsArray()
  @ArrayMaxSize(50)
  @IsInt({ each: true })
  option_ids: number[];
}

export class SettingDto {
  @ApiProperty() id: number;
  @ApiProperty() setting_type: string;
  @ApiProperty() option_value: string;
}

export class MeDto {
  @ApiProperty() id: string;
  @ApiProperty() email: string;
  @ApiProperty() username: string;
}

export class LoginResponseDto {
  @ApiProperty({ description: 'JWT (HS256): sub = user id, exp in seconds' }) access_token: string;
  @ApiProperty({ example: 'bearer' }) token_type: 'bearer';
  @ApiProperty({ description: 'Seconds' }) expires_in: number;
}
