import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { AppConfig } from '../config/app-config';

@ApiTags('health')
@Controller('config')
export class ConfigController {
  constructor(private readonly config: AppConfig) {}

  @Get('status')
  @Authenticated({ permission: 'ops:read' })
  @ApiOperation({
    summary: 'Effective configuration',
    description:
      'Every configuration variable with the value in effect, secrets and URL user-info masked; environment and version. Needs ops:read or admin.',
  })
  @ApiOkResponse({ description: '{environment, version, config: {VAR: value}}' })
  status() {
    return {
      environment: this.config.env.environment,
      version: this.config.env.version,
      config: this.config.toPublicJson(),
    };
  }
}
