import { ApiProperty } from '@nestjs/swagger';
import { Equals, IsDefined, IsIn } from 'class-validator';
import { CACHE_TYPES } from '../cache-types';

export const CLEARABLE = [...CACHE_TYPES, 'all'] as const;

export class ClearCacheDto {
  @ApiProperty({ enum: CLEARABLE })
  @IsIn(CLEARABLE)
  cache_type: (typeof CLEARABLE)[number];

  @ApiProperty({ enum: [true], description: 'Must be true' })
  @IsDefined()
  @Equals(true, { message: 'confirm must be true' })
  confirm: true;
}

export class ClearCacheResponseDto {
  @ApiProperty() success: boolean;
  @ApiProperty() message: string;
  @ApiProperty({ type: [String] }) cleared: string[];
  @ApiProperty({ description: 'Entries deleted' }) deleted_entries: number;
}

export class CacheTypeStatsDto {
  @ApiProperty() hits: number;
  @ApiProperty() misses: number;
  @ApiProperty({ description: 'Hits that joined a generation already in flight' }) coalesced: number;
  @ApiProperty({ description: 'hits / (hits + misses), 0 without traffic' }) hit_rate: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Live entries (null while the store is unreachable)' })
  entries: number | null;
}

export class CacheStatsDto {
  @ApiProperty({ enum: ['redis', 'memory'] }) backend: string;
  @ApiProperty() available: boolean;
  @ApiProperty() enabled: boolean;
  @ApiProperty() ttl_seconds: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Bound of the in-process store (null with Redis)' })
  max_size: number | null;
  @ApiProperty() hits: number;
  @ApiProperty() misses: number;
  @ApiProperty() hit_rate: number;
  @ApiProperty({ description: 'Generations in flight on this instance' }) in_flight: number;
  @ApiProperty({ type: CacheTypeStatsDto, additionalProperties: { $ref: '#/components/schemas/CacheTypeStatsDto' } })
  by_type: Record<string, CacheTypeStatsDto>;
}
