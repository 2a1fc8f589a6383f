import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
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
  @ApiOperation({ summary: "The caller's own keys (never the secret)" })
  list(@Principal() p: AuthPrincipal): Promise<ApiKeySummaryDto[]> {
    return this.service.listOwn(p.userId);
  }

  @Delete(':id')
  @Authenticated()
  @ApiOperation({
    summary:
      'Revoke one of your keys (403 E4005 unless your credential has all its permissions); every instance refuses it within seconds',
  })
  revoke(@Principal() p: AuthPrincipal, @Param('id') id: string): Promise<{ id: string; status: 'revoked' }> {
    return this.service.revoke(p, id);
  }

  @Post(':id/rotate')
  @HttpCode(200)
  @Authenticated()
  @ApiOperation({
    summary:
      'Replace one of your keys (403 E4005 unless your credential has all its permissions): the new secret is shown once, the old key is revoked',
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
  @ApiOperation({ summary: 'Issue a key for a user (created if new) with chosen permissions, expiry and limits' })
  issue(@Body() dto: AdminIssueApiKeyDto): Promise<IssuedApiKeyDto> {
    return this.service.issueByAdmin(dto);
  }
}
