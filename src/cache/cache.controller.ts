import { Body, Controller, Delete, Get, HttpCode } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { CacheService } from './cache.service';
import { CacheStatsDto, ClearCacheDto, ClearCacheResponseDto } from './dto/cache.dto';

@ApiTags('cache')
@Controller('cache')
export class CacheController {
  constructor(private readonly cache: CacheService) {}

  @Delete('clear')
  @HttpCode(200)
  @Authenticated({ permission: 'admin' })
  @ApiOperation({
    summary: 'Clear the response cache',
    description:
      'Drops every cached answer of one type, or all of them (confirm must be true). On every instance sharing the Redis; in-process caches of other instances expire with CACHE_TTL.',
  })
  @ApiBody({
    type: ClearCacheDto,
    examples: {
      generation: { summary: 'Code-generation answers only', value: { cache_type: 'code_generation', confirm: true } },
      all: { summary: 'Everything', value: { cache_type: 'all', confirm: true } },
    },
  })
  @ApiOkResponse({ type: ClearCacheResponseDto })
  clear(@Body() dto: ClearCacheDto): Promise<ClearCacheResponseDto> {
    return this.cache.clear(dto);
  }

  @Get('stats')
  @Authenticated({ permission: ['admin', 'analytics:read'] })
  @ApiOperation({
    summary: 'Cache statistics',
    description:
      'The store in use (Redis or in-process), TTL, hits, misses, hit rate and generations in flight, also per cache type.',
  })
  @ApiOkResponse({ type: CacheStatsDto })
  stats(): Promise<CacheStatsDto> {
    return this.cache.statistics();
  }
}
