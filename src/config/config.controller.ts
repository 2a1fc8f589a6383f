import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AppConfig } from './app-config';

@ApiTags('health')
@Controller('config')
export class ConfigController {
  constructor(private readonly config: AppConfig) {}

  @Get('status')
  @ApiOperation({
    summary: 'Effective configuration',
    description: 'Every configuration variable with the value in effect, secrets masked; environment and version.',
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
