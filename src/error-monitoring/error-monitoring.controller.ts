import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiOkResponse({ type: ErrorDashboardDto })
  dashboard(): Promise<ErrorDashboardDto> {
    return this.service.dashboard();
  }

  @Get('patterns')
  @Authenticated({ permission: ['analytics:read'] })
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
  @ApiOkResponse({ type: IncidentPageDto })
  list(@Query() q: IncidentQueryDto): Promise<IncidentPageDto> {
    return this.service.listIncidents(q);
  }

  @Get('incidents/:id')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOkResponse({ type: IncidentDetailDto })
  get(@Param('id') id: string): Promise<IncidentDetailDto> {
    return this.service.getIncident(id);
  }

  @Patch('incidents/:id')
  @Authenticated({ permission: ['admin'] })
  @ApiOkResponse({ type: IncidentSummaryDto })
  update(@Param('id') id: string, @Body() dto: UpdateIncidentDto): Promise<IncidentSummaryDto> {
    return this.service.setStatus(id, dto.status);
  }

  @Get('codes')
  @Authenticated({ permission: ['analytics:read'] })
  @ApiOkResponse({ type: ErrorCodesDto })
  codes(): ErrorCodesDto {
    return this.service.codes();
  }
}
