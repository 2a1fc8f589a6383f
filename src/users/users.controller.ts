import { Body, Controller, Get, HttpCode, Post, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedWhenRegistrationClosed } from '../api-keys/auth.guard';
import { EmailAndUsernameDto, IssuedApiKeyDto } from '../api-keys/dto/api-key.dto';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import type { AuthPrincipal } from '../common/http/app-request';
import { LoginResponseDto, MeDto, ProfileDto, ProfileResponseDto, SettingDto, SettingsDto } from './dto/users.dto';
import { ProfileService } from './profile.service';
import { UsersService } from './users.service';

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly profiles: ProfileService,
  ) {}

  @Post('generate-api-key')
  @HttpCode(200)
  @ApiOperation({ summary: 'Self-service API key for an email (REGISTRATION_MODE=open only); shown once' })
  generateApiKey(@Body() dto: EmailAndUsernameDto): Promise<IssuedApiKeyDto> {
    return this.users.generateApiKey(dto);
  }

  @Post('login')
  @HttpCode(200)
  @AuthenticatedWhenRegistrationClosed()
  @ApiOperation({ summary: 'Login token (JWT) for an email; with REGISTRATION_MODE=closed, send that user’s API key' })
  login(@Body() dto: EmailAndUsernameDto, @Principal() principal?: AuthPrincipal): Promise<LoginResponseDto> {
    return this.users.login(dto, principal);
  }

  @Get('me')
  @Authenticated()
  me(@Principal() p: AuthPrincipal): Promise<MeDto> {
    return this.users.me(p);
  }

  @Get('profile')
  @Authenticated({ permission: 'profile' })
  getProfile(@Principal() p: AuthPrincipal): Promise<ProfileResponseDto> {
    return this.profiles.getProfile(p.userId);
  }

  @Post('profile')
  @HttpCode(200)
  @Authenticated({ permission: 'profile' })
  @ApiOperation({ summary: 'Store the onboarding profile (replaces the previous one)' })
  createProfile(@Principal() p: AuthPrincipal, @Body() dto: ProfileDto): Promise<ProfileResponseDto> {
    return this.profiles.saveProfile(p.userId, dto);
  }

  @Put('profile')
  @Authenticated({ permission: 'profile' })
  updateProfile(@Principal() p: AuthPrincipal, @Body() dto: ProfileDto): Promise<ProfileResponseDto> {
    return this.profiles.saveProfile(p.userId, dto);
  }

  @Get('settings')
  @Authenticated({ permission: 'profile' })
  getSettings(@Principal() p: AuthPrincipal): Promise<SettingDto[]> {
    return this.profiles.getSettings(p.userId);
  }

  @Post('settings')
  @HttpCode(200)
  @Authenticated({ permission: 'profile' })
  @ApiOperation({ summary: 'Replace the chosen setting options (ids in spec §4)' })
  saveSettings(@Principal() p: AuthPrincipal, @Body() dto: SettingsDto): Promise<SettingDto[]> {
    return this.profiles.saveSettings(p.userId, dto.option_ids);
  }
}
