import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import type { AuthPrincipal } from '../common/http/app-request';
import { AnalyticsService } from './analytics.service';
import {
  AcceptedDto,
  AnalyticsDashboardDto,
  AnalyticsPeriodQueryDto,
  CompletionEventDto,
  PerformanceDto,
  UsageDto,
  UsageQueryDto,
} from './dto/analytics.dto';

@ApiTags('analytics')
@Controller('analytics')
export class AnalyticsController {
  constructor(private readonly service: AnalyticsService) {}

  @Get('performance')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOkResponse({ type: PerformanceDto })
  performance(@Query() q: AnalyticsPeriodQueryDto): Promise<PerformanceDto> {
    return this.service.performance(q.period);
  }

  @Get('dashboard')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOkResponse({ type: AnalyticsDashboardDto })
  dashboard(@Query() q: AnalyticsPeriodQueryDto): Promise<AnalyticsDashboardDto> {
    return this.service.dashboard(q.period);
  }

  @Get('usage')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOkResponse({ type: UsageDto })
  usage(@Query() q: UsageQueryDto): Promise<UsageDto> {
    return this.service.usage(q.group_by, q.period, q.limit);
  }

  /** Completion telemetry from the editor (view / select / dismiss), like Tabby's. */
  @Post('events')
  @HttpCode(202)
  @Authenticated()
  @ApiAcceptedResponse({ type: AcceptedDto })
  event(@Body() dto: CompletionEventDto, @Principal() principal?: AuthPrincipal): AcceptedDto {
    return this.service.recordCompletionEvent(dto, principal);
  }
}
