import { Body, Controller, Get, HttpCode, Post, Put } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthenticatedWhenRegistrationClosed } from '../api-keys/auth.guard';
import { EmailAndUsernameDto, IssuedApiKeyDto } from '../api-keys/dto/api-key.dto';
import { Authenticated, Principal } from '../common/auth/authenticated.decorator';
import type { AuthPrincipal } from '../common/http/app-request';
import { LoginResponseDto, MeDto, ProfileDto, ProfileResponseDto, SettingDto, SettingsDto } from './dto/users.dto';
import { ProfileService } from './profile.service';
import { UsersService } from './users.service';

const PROFILE_EXAMPLES = {
  onboarding: {
    summary: 'Profile from the extension onboarding',
    value: {
      profile_data: { pythonSkillLevel: 'intermediate', codeOutputStructure: 'standard', explanationStyle: 'standard' },
      settings_mapping: [2, 4, 7],
    },
  },
};

@ApiTags('users')
@Controller('users')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly profiles: ProfileService,
  ) {}

  @Post('generate-api-key')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Get an API key for an email (open registration); shown once',
    description:
      'Creates the user if the email is new and issues a key with code_generation, code_completion and profile. The key is shown once: store it. With REGISTRATION_MODE=closed (the production default) this answers 403 E4005 and keys come from POST /admin/api-keys.',
  })
  @ApiBody({
    type: EmailAndUsernameDto,
    examples: {
      email: { summary: 'Email only', value: { email: 'dev@example.com' } },
      named: { summary: 'With a display name', value: { email: 'dev@example.com', username: 'dev' } },
    },
  })
  generateApiKey(@Body() dto: EmailAndUsernameDto): Promise<IssuedApiKeyDto> {
    return this.users.generateApiKey(dto);
  }

  @Post('login')
  @HttpCode(200)
  @AuthenticatedWhenRegistrationClosed()
  @ApiOperation({
    summary: 'Get a login token (JWT) for an email',
    description:
      'Returns an HS256 JWT valid ACCESS_TOKEN_EXPIRE_MINUTES, usable as Authorization: Bearer <token> on every route that needs profile, code_generation or code_completion (never admin or analytics:read). With REGISTRATION_MODE=closed, send that user’s own API key; the token then carries no more than that key’s permissions.',
  })
  @ApiBody({
    type: EmailAndUsernameDto,
    examples: { login: { summary: 'Login', value: { email: 'dev@example.com' } } },
  })
  login(@Body() dto: EmailAndUsernameDto, @Principal() principal?: AuthPrincipal): Promise<LoginResponseDto> {
    return this.users.login(dto, principal);
  }

  @Get('me')
  @Authenticated()
  @ApiOperation({
    summary: 'Who am I',
    description: 'The user behind the credential: id, email and username.',
  })
  me(@Principal() p: AuthPrincipal): Promise<MeDto> {
    return this.users.me(p);
  }

  @Get('profile')
  @Authenticated({ permission: 'profile' })
  @ApiOperation({
    summary: 'Read your onboarding profile',
    description:
      'The profile the extension stored at onboarding (skill level, output structure, explanation style...) and the chosen setting ids; generation requests use it when they carry no user_profile of their own.',
  })
  getProfile(@Principal() p: AuthPrincipal): Promise<ProfileResponseDto> {
    return this.profiles.getProfile(p.userId);
  }

  @Post('profile')
  @HttpCode(200)
  @Authenticated({ permission: 'profile' })
  @ApiOperation({
    summary: 'Store your onboarding profile',
    description:
      'Replaces the previous profile. settings_mapping (option ids, spec §4) also replaces the chosen settings.',
  })
  @ApiBody({ type: ProfileDto, examples: PROFILE_EXAMPLES })
  createProfile(@Principal() p: AuthPrincipal, @Body() dto: ProfileDto): Promise<ProfileResponseDto> {
    return this.profiles.saveProfile(p.userId, dto);
  }

  @Put('profile')
  @Authenticated({ permission: 'profile' })
  @ApiOperation({
    summary: 'Update your onboarding profile',
    description: 'Same as POST /users/profile (the extension sends either).',
  })
  @ApiBody({ type: ProfileDto, examples: PROFILE_EXAMPLES })
  updateProfile(@Principal() p: AuthPrincipal, @Body() dto: ProfileDto): Promise<ProfileResponseDto> {
    return this.profiles.saveProfile(p.userId, dto);
  }

  @Get('settings')
  @Authenticated({ permission: 'profile' })
  @ApiOperation({
    summary: 'Read your chosen settings',
    description: 'One entry per chosen option: {id, setting_type, option_value}.',
  })
  getSettings(@Principal() p: AuthPrincipal): Promise<SettingDto[]> {
    return this.profiles.getSettings(p.userId);
  }

  @Post('settings')
  @HttpCode(200)
  @Authenticated({ permission: 'profile' })
  @ApiOperation({
    summary: 'Choose your settings',
    description: 'Replaces the chosen options with option_ids (ids in spec §4, one per setting type) and returns them.',
  })
  @ApiBody({ type: SettingsDto, examples: { choose: { summary: 'Three options', value: { option_ids: [2, 4, 7] } } } })
  saveSettings(@Principal() p: AuthPrincipal, @Body() dto: SettingsDto): Promise<SettingDto[]> {
    return this.profiles.saveSettings(p.userId, dto.option_ids);
  }
}
