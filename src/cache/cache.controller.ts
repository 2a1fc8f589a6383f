import { Body, Controller, Delete, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiOkResponse({ type: ClearCacheResponseDto })
  clear(@Body() dto: ClearCacheDto): Promise<ClearCacheResponseDto> {
    return this.cache.clear(dto);
  }

  @Get('stats')
  @Authenticated({ permission: ['admin', 'analytics:read'] })
  @ApiOkResponse({ type: CacheStatsDto })
  stats(): Promise<CacheStatsDto> {
    return this.cache.statistics();
  }
}
