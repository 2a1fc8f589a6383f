import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @ApiOperation({
    summary: 'Performance figures',
    description:
      'Requests, mean latency and percentiles, time to first token, error rate, cache hit rate and model token usage over the period.',
  })
  @ApiOkResponse({ type: PerformanceDto })
  performance(@Query() q: AnalyticsPeriodQueryDto): Promise<PerformanceDto> {
    return this.service.performance(q.period);
  }

  @Get('dashboard')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'Analytics dashboard',
    description:
      'Traffic by day and route, top users, keys and adapters, errors, cache, model token usage and completion acceptance over the period.',
  })
  @ApiOkResponse({ type: AnalyticsDashboardDto })
  dashboard(@Query() q: AnalyticsPeriodQueryDto): Promise<AnalyticsDashboardDto> {
    return this.service.dashboard(q.period);
  }

  @Get('usage')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'Usage by key, user, adapter or day',
    description:
      'Request, token and error counts grouped by group_by over the period, largest first, at most limit rows.',
  })
  @ApiOkResponse({ type: UsageDto })
  usage(@Query() q: UsageQueryDto): Promise<UsageDto> {
    return this.service.usage(q.group_by, q.period, q.limit);
  }

  /** Completion telemetry from the editor (view / select / dismiss), like Tabby's. */
  @Post('events')
  @HttpCode(202)
  @Authenticated()
  @ApiOperation({
    summary: 'Report a completion event',
    description:
      'Telemetry from the editor for a completion it received: view, select (accepted) or dismiss, by completion_id. Recorded in batches off the request path: 202 as soon as it is queued. Spends the API_RATE_LIMIT budget, not the generation one.',
  })
  @ApiBody({
    type: CompletionEventDto,
    examples: {
      accepted: {
        summary: 'A suggestion accepted after 850 ms',
        value: {
          type: 'select',
          completion_id: 'cmpl-0f8e6c9a-3b1d-4c2e-9a7b-5d4e3f2a1b0c',
          language: 'python',
          elapsed_ms: 850,
        },
      },
      dismissed: {
        summary: 'A suggestion dismissed',
        value: { type: 'dismiss', completion_id: 'cmpl-0f8e6c9a-3b1d-4c2e-9a7b-5d4e3f2a1b0c' },
      },
    },
  })
  @ApiAcceptedResponse({ type: AcceptedDto })
  event(@Body() dto: CompletionEventDto, @Principal() principal?: AuthPrincipal): AcceptedDto {
    return this.service.recordCompletionEvent(dto, principal);
  }
}
