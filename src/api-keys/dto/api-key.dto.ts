import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { PERMISSIONS } from '../../common/auth/authenticated.decorator';
import { IsEmailAddress, IsStorableText } from '../../common/validation/storable-text';

const NO_CONTROL_CHARS = /^[^\u0000-\u001f\u007f]*$/;

/** Emails are compared and stored trimmed and lower-cased. */
export const NormalisedEmail = () =>
  Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value));
const Trimmed = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

export class EmailAndUsernameDto {
  @ApiProperty({ example: 'dev@example.com' })
  @NormalisedEmail()
  @IsString()
  @MaxLength(254)
  @IsEmailAddress()
  @IsStorableText()
  email: string;

  @ApiPropertyOptional({ description: "Defaults to the email's local part", maxLength: 100 })
  @IsOptional()
  @Trimmed()
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARS, { message: 'username must not contain control characters' })
  @IsStorableText()
  username?: string;
}

export class AdminIssueApiKeyDto extends EmailAndUsernameDto {
  @ApiPropertyOptional({
    enum: PERMISSIONS,
    isArray: true,
    description: 'Default: code_generation, code_completion, profile',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(PERMISSIONS.length)
  @ArrayUnique()
  @IsIn(PERMISSIONS, { each: true })
  permissions?: string[];

  @ApiPropertyOptional({ description: 'Default: API_KEY_EXPIRY_DAYS' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  expires_in_days?: number;

  @ApiPropertyOptional({
    description: 'Requests per RATE_LIMIT_WINDOW_MINUTES for this key (replaces DEFAULT_RATE_LIMIT)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000_000)
  rate_limit?: number;

  @ApiPropertyOptional({ description: 'Concurrent streams for this key (replaces MAX_CONCURRENT_STREAMS)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  max_concurrent_streams?: number;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional()
  @Trimmed()
  @IsString()
  @Length(1, 100)
  @Matches(NO_CONTROL_CHARS, { message: 'name must not contain control characters' })
  @IsStorableText()
  name?: string;
}

export class IssuedApiKeyDto {
  @ApiProperty({ description: 'The secret: shown once, never retrievable again' }) api_key: string;
  @ApiProperty() key_id: string;
  @ApiProperty() key_prefix: string;
  @ApiProperty() user_id: string;
  @ApiProperty({ type: [String] }) permissions: string[];
  @ApiProperty() expires_in_days: number;
  @ApiProperty() expires_at: string;
  @ApiPropertyOptional({ nullable: true, type: Number }) rate_limit: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) max_concurrent_streams: number | null;
  @ApiProperty() message: string;
}

export class ApiKeySummaryDto {
  @ApiProperty() id: string;
  @ApiProperty({ description: 'Non-secret start of the key' }) key_prefix: string;
  @ApiPropertyOptional({ nullable: true, type: String }) name: string | null;
  @ApiProperty({ type: [String] }) permissions: string[];
  @ApiProperty({ enum: ['active', 'revoked', 'expired'] }) status: 'active' | 'revoked' | 'expired';
  @ApiPropertyOptional({ nullable: true, type: Number }) rate_limit: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) max_concurrent_streams: number | null;
  @ApiProperty() expires_at: string;
  @ApiPropertyOptional({ nullable: true, type: String }) revoked_at: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) last_used_at: string | null;
  @ApiProperty() created_at: string;
}
