import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import {
  ErrorCodesDto,
  ErrorDashboardDto,
  ErrorPatternsDto,
  IncidentDetailDto,
  IncidentPageDto,
  IncidentQueryDto,
  IncidentSummaryDto,
  PeriodQueryDto,
  UpdateIncidentDto,
} from './dto/error-monitoring.dto';
import { ErrorMonitoringService } from './error-monitoring.service';

@ApiTags('error-monitoring')
@Controller('errors')
export class ErrorsController {
  constructor(private readonly service: ErrorMonitoringService) {}

  @Get('dashboard')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'Error dashboard',
    description:
      'Error totals and rate over the last 24 hours, open incidents, the most frequent codes and the latest incidents.',
  })
  @ApiOkResponse({ type: ErrorDashboardDto })
  dashboard(): Promise<ErrorDashboardDto> {
    return this.service.dashboard();
  }

  @Get('patterns')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'Error patterns',
    description:
      'Errors over the period (default 7d) by code and by route, as a timeline, with the spikes above the baseline.',
  })
  @ApiOkResponse({ type: ErrorPatternsDto })
  patterns(@Query() q: PeriodQueryDto): Promise<ErrorPatternsDto> {
    return this.service.patterns(q.period);
  }
}

@ApiTags('error-monitoring')
@Controller('error-monitoring')
export class IncidentsController {
  constructor(private readonly service: ErrorMonitoringService) {}

  @Get('incidents')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'List incidents',
    description:
      'Server-error incidents (grouped by fingerprint), newest first, filtered by code, status and period, one page at a time.',
  })
  @ApiOkResponse({ type: IncidentPageDto })
  list(@Query() q: IncidentQueryDto): Promise<IncidentPageDto> {
    return this.service.listIncidents(q);
  }

  @Get('incidents/:id')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'One incident',
    description:
      'The incident by its id, or by an incident id (INC-...) a client received in an error response, with its 20 latest occurrences.',
  })
  @ApiOkResponse({ type: IncidentDetailDto })
  get(@Param('id') id: string): Promise<IncidentDetailDto> {
    return this.service.getIncident(id);
  }

  @Patch('incidents/:id')
  @Authenticated({ permission: ['admin'] })
  @ApiOperation({
    summary: 'Acknowledge or resolve an incident',
    description: 'Sets the status: open, acknowledged or resolved. A resolved incident reopens when the error recurs.',
  })
  @ApiBody({
    type: UpdateIncidentDto,
    examples: {
      acknowledge: { summary: 'Someone is on it', value: { status: 'acknowledged' } },
      resolve: { summary: 'Fixed', value: { status: 'resolved' } },
    },
  })
  @ApiOkResponse({ type: IncidentSummaryDto })
  update(@Param('id') id: string, @Body() dto: UpdateIncidentDto): Promise<IncidentSummaryDto> {
    return this.service.setStatus(id, dto.status);
  }

  @Get('codes')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOperation({
    summary: 'The error catalogue',
    description:
      'Every error code with its description, HTTP status, category (client or server) and whether a retry can help.',
  })
  @ApiOkResponse({ type: ErrorCodesDto })
  codes(): ErrorCodesDto {
    return this.service.codes();
  }
}
