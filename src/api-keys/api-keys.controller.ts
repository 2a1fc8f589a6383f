import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import type { AuthPrincipal } from '../common/http/app-request';
import { ApiKeysService } from './api-keys.service';
import { AdminIssueApiKeyDto, ApiKeySummaryDto, IssuedApiKeyDto } from './dto/api-key.dto';

@ApiTags('api-keys')
@Controller('users/api-keys')
export class ApiKeysController {
  constructor(private readonly service: ApiKeysService) {}

  @Get()
  @Authenticated()
  @ApiOperation({
    summary: 'List your API keys',
    description:
      'Every key of the calling user with its display prefix, permissions, limits, expiry and last use; never the secret.',
  })
  list(@Principal() p: AuthPrincipal): Promise<ApiKeySummaryDto[]> {
    return this.service.listOwn(p.userId);
  }

  @Delete(':id')
  @Authenticated()
  @ApiOperation({
    summary: 'Revoke one of your API keys',
    description:
      'Needs a credential of the same user holding every permission of that key (403 E4005 otherwise). Every instance refuses the key within seconds (Redis pub/sub; AUTH_CACHE_TTL_SECONDS without Redis).',
  })
  revoke(@Principal() p: AuthPrincipal, @Param('id') id: string): Promise<{ id: string; status: 'revoked' }> {
    return this.service.revoke(p, id);
  }

  @Post(':id/rotate')
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({
    summary: 'Rotate one of your API keys',
    description:
      'Issues a new secret with the same permissions and limits (shown once) and revokes the old key. Needs a credential of the same user holding every permission of that key (403 E4005 otherwise).',
  })
  rotate(@Principal() p: AuthPrincipal, @Param('id') id: string): Promise<IssuedApiKeyDto> {
    return this.service.rotate(p, id);
  }
}

@ApiTags('admin')
@Controller('admin/api-keys')
export class AdminApiKeysController {
  constructor(private readonly service: ApiKeysService) {}

  @Post()
  @Authenticated({ permission: 'admin' })
  @ApiOperation({
    summary: 'Issue an API key (admin)',
    description:
      'Creates the user if the email is new and issues a key with the chosen permissions, expiry, rate_limit (replaces DEFAULT_RATE_LIMIT, the generation budget) and max_concurrent_streams. The way to get keys when REGISTRATION_MODE=closed; the bootstrap ADMIN_API_KEY works here.',
  })
  @ApiBody({
    type: AdminIssueApiKeyDto,
    examples: {
      developer: {
        summary: 'A developer key',
        value: { email: 'dev@example.com', permissions: ['code_generation', 'code_completion', 'profile'] },
      },
      operator: {
        summary: 'A read-only monitoring key, 30 days',
        value: { email: 'ops@example.com', permissions: ['analytics:read'], expires_in_days: 30, name: 'grafana' },
      },
      limited: {
        summary: 'Autocomplete only, with its own limits',
        value: {
          email: 'ci@example.com',
          permissions: ['code_completion'],
          rate_limit: 500,
          max_concurrent_streams: 2,
        },
      },
    },
  })
  issue(@Body() dto: AdminIssueApiKeyDto): Promise<IssuedApiKeyDto> {
    return this.service.issueByAdmin(dto);
  }
}
