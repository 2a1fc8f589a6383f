import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Period, PERIODS } from '../../common/http/period';
import { COMPLETION_EVENT_TYPES, CompletionEventType } from '../analytics.entities';

// What the editor sends back is stored: only characters and lengths the columns take (completion_events).
export const COMPLETION_ID_PATTERN = /^[\w.:-]{1,64}$/;
export const LANGUAGE_PATTERN = /^[\w+#.-]{1,32}$/;

export const USAGE_GROUPS = ['key', 'user', 'adapter', 'day', 'client', 'surface', 'model'] as const;
export type UsageGroupBy = (typeof USAGE_GROUPS)[number];

export class AnalyticsPeriodQueryDto {
  @ApiPropertyOptional({ enum: PERIODS, default: '24h' })
  @IsOptional()
  @IsIn(PERIODS)
  period?: Period;
}

export class UsageQueryDto extends AnalyticsPeriodQueryDto {
  @ApiPropertyOptional({ enum: USAGE_GROUPS, default: 'day' })
  @IsOptional()
  @IsIn(USAGE_GROUPS)
  group_by?: UsageGroupBy;

  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class CompletionEventDto {
  @ApiProperty({ enum: COMPLETION_EVENT_TYPES }) @IsIn(COMPLETION_EVENT_TYPES) type: CompletionEventType;
  @ApiProperty({ pattern: COMPLETION_ID_PATTERN.source, example: 'cmpl-0f8e6c9a-3b1d-4c2e-9a7b-5d4e3f2a1b0c' })
  @IsString()
  @Matches(COMPLETION_ID_PATTERN)
  completion_id: string;

  @ApiPropertyOptional({ pattern: LANGUAGE_PATTERN.source, example: 'python' })
  @IsOptional()
  @IsString()
  @Matches(LANGUAGE_PATTERN)
  language?: string;

  @ApiPropertyOptional({ description: 'Milliseconds the completion was shown before the action' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  elapsed_ms?: number;
}

export class AcceptedDto {
  @ApiProperty({ example: 'accepted' }) status: 'accepted';
}

export class ModelUsageDto {
  @ApiProperty() total_tokens: number;
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() completion_tokens: number;
  @ApiProperty({ description: 'Tokens per model request' }) avg_tokens_per_request: number;
  @ApiProperty() model_requests: number;
}

export class LatencyPercentilesDto {
  @ApiProperty({ nullable: true, type: Number }) avg_ms: number | null;
  @ApiProperty({ nullable: true, type: Number }) p50_ms: number | null;
  @ApiProperty({ nullable: true, type: Number }) p95_ms: number | null;
  @ApiProperty({ nullable: true, type: Number }) p99_ms: number | null;
}

export class PerformanceDto {
  @ApiProperty({ enum: PERIODS }) period: Period;
  @ApiProperty() total_requests: number;
  @ApiProperty({ description: 'Mean request latency (ms)' }) avg_response_time: number;
  @ApiProperty({ description: 'Requests over the period / minutes in the period' }) requests_per_minute: number;
  @ApiProperty({ description: 'Cache hits / (hits + misses) of cacheable model requests' }) cache_hit_rate: number;
  @ApiProperty() error_rate: number;
  @ApiProperty({ type: ModelUsageDto }) ai_model_usage: ModelUsageDto;
  @ApiProperty({ type: LatencyPercentilesDto }) latency: LatencyPercentilesDto;
  @ApiProperty({ type: LatencyPercentilesDto }) time_to_first_token: LatencyPercentilesDto;
}

export class UsageRowDto {
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Key id, user id, adapter, day (UTC), client (User-Agent), surface (hapa | openai) or model name',
  })
  key: string | null;
  @ApiProperty() requests: number;
  @ApiProperty() errors: number;
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() completion_tokens: number;
  @ApiProperty() total_tokens: number;
  @ApiProperty({ nullable: true, type: Number }) avg_latency_ms: number | null;
  @ApiProperty() cache_hits: number;
}

export class UsageDto {
  @ApiProperty({ enum: USAGE_GROUPS }) group_by: UsageGroupBy;
  @ApiProperty({ enum: PERIODS }) period: Period;
  @ApiProperty({ type: [UsageRowDto] }) items: UsageRowDto[];
}

export class CompletionDayDto {
  @ApiProperty() day: string;
  @ApiProperty() views: number;
  @ApiProperty() selects: number;
  @ApiProperty() dismisses: number;
  @ApiProperty({ nullable: true, type: Number, description: 'selects / views' }) acceptance_rate: number | null;
}

export class AnalyticsDashboardDto {
  @ApiProperty({ enum: PERIODS }) period: Period;
  @ApiProperty() traffic: {
    total_requests: number;
    requests_per_minute: number;
    error_responses: number;
    by_day: UsageRowDto[];
    top_routes: UsageRowDto[];
  };
  @ApiProperty({ type: [UsageRowDto] }) top_users: UsageRowDto[];
  @ApiProperty({ type: [UsageRowDto] }) top_keys: UsageRowDto[];
  @ApiProperty({ type: [UsageRowDto] }) adapters: UsageRowDto[];
  @ApiProperty() errors: { total: number; rate: number };
  @ApiProperty() cache: { hits: number; misses: number; hit_rate: number };
  @ApiProperty({ type: ModelUsageDto }) ai_model_usage: ModelUsageDto;
  @ApiProperty() completions: {
    views: number;
    selects: number;
    dismisses: number;
    acceptance_rate: number | null;
    by_day: CompletionDayDto[];
  };
}
