import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { ErrorCode } from '../../common/errors/error-codes';
import { Period, PERIODS } from '../../common/http/period';
import { INCIDENT_STATUSES, IncidentStatus } from '../error-monitoring.entities';

export class PeriodQueryDto {
  @ApiPropertyOptional({ enum: PERIODS, default: '24h' })
  @IsOptional()
  @IsIn(PERIODS)
  period?: Period;
}

export class IncidentQueryDto extends PeriodQueryDto {
  @ApiPropertyOptional({ enum: ErrorCode })
  @IsOptional()
  @IsIn(Object.values(ErrorCode))
  code?: ErrorCode;

  @ApiPropertyOptional({ enum: INCIDENT_STATUSES })
  @IsOptional()
  @IsIn(INCIDENT_STATUSES)
  status?: IncidentStatus;

  @ApiPropertyOptional({ default: 1, minimum: 1, maximum: 10_000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  page?: number;

  @ApiPropertyOptional({ default: 20, minimum: 1, maximum: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  page_size?: number;
}

export class UpdateIncidentDto {
  @ApiProperty({ enum: INCIDENT_STATUSES })
  @IsIn(INCIDENT_STATUSES)
  status: IncidentStatus;
}

export class ErrorCodeCountDto {
  @ApiProperty() code: string;
  @ApiProperty() count: number;
  @ApiProperty() description: string;
}

export class IncidentSummaryDto {
  @ApiProperty({ example: 'INC-20261122-9F3A1C07' }) incident_id: string;
  @ApiProperty() error_code: string;
  @ApiProperty({ description: 'Last occurrence' }) timestamp: string;
  @ApiProperty({ enum: INCIDENT_STATUSES }) status: IncidentStatus;
  @ApiProperty() route: string;
  @ApiProperty({ description: 'Normalised message' }) message: string;
  @ApiProperty() count: number;
  @ApiProperty() first_seen: string;
  @ApiProperty() last_seen: string;
  @ApiProperty({ description: 'Incident id of the latest occurrence' }) last_incident_id: string;
  @ApiProperty({ nullable: true, type: String }) acknowledged_at: string | null;
  @ApiProperty({ nullable: true, type: String }) resolved_at: string | null;
  @ApiProperty() reopened_count: number;
}

export class OccurrenceDto {
  @ApiProperty() incident_id: string;
  @ApiProperty() timestamp: string;
  @ApiProperty() method: string;
  @ApiProperty() message: string;
  @ApiProperty() request_id: string;
  @ApiProperty({ nullable: true, type: String }) api_key_id: string | null;
}

export class IncidentDetailDto extends IncidentSummaryDto {
  @ApiProperty({ type: [OccurrenceDto], description: 'Recent recorded (sampled) occurrences' })
  occurrences: OccurrenceDto[];
}

export class IncidentPageDto {
  @ApiProperty({ type: [IncidentSummaryDto] }) items: IncidentSummaryDto[];
  @ApiProperty() total: number;
  @ApiProperty() page: number;
  @ApiProperty() page_size: number;
}

export class ErrorDashboardDto {
  @ApiProperty() total_errors: number;
  @ApiProperty() errors_last_24h: number;
  @ApiProperty({ description: 'Error responses / requests over the last 24 h' }) error_rate: number;
  @ApiProperty() requests_last_24h: number;
  @ApiProperty() open_incidents: number;
  @ApiProperty({ type: [ErrorCodeCountDto] }) top_error_codes: ErrorCodeCountDto[];
  @ApiProperty({ type: [IncidentSummaryDto] }) recent_incidents: IncidentSummaryDto[];
}

export class ErrorCodeInfoDto {
  @ApiProperty() code: string;
  @ApiProperty() description: string;
  @ApiProperty() http_status: number;
  @ApiProperty() retryable: boolean;
  @ApiProperty({ enum: ['client', 'server'] }) category: 'client' | 'server';
}

export class ErrorCodesDto {
  @ApiProperty({ type: [ErrorCodeInfoDto] }) codes: ErrorCodeInfoDto[];
  @ApiProperty() total: number;
}

export class TimelineBucketDto {
  @ApiProperty() timestamp: string;
  @ApiProperty() count: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } }) by_code: Record<string, number>;
}

export class SpikeDto {
  @ApiProperty() timestamp: string;
  @ApiProperty() count: number;
  @ApiProperty({ description: 'Mean errors per bucket over the period' }) baseline: number;
  @ApiProperty() factor: number;
}

export class ErrorPatternsDto {
  @ApiProperty({ enum: PERIODS }) period: Period;
  @ApiProperty({ enum: ['minute', 'hour', 'day'] }) bucket: 'minute' | 'hour' | 'day';
  @ApiProperty() from: string;
  @ApiProperty() to: string;
  @ApiProperty() total: number;
  @ApiProperty({ type: [ErrorCodeCountDto] }) by_code: ErrorCodeCountDto[];
  @ApiProperty() by_route: { route: string; count: number }[];
  @ApiProperty() by_code_and_route: { code: string; route: string; count: number }[];
  @ApiProperty({ type: [TimelineBucketDto] }) timeline: TimelineBucketDto[];
  @ApiProperty({ type: [SpikeDto] }) spikes: SpikeDto[];
}
