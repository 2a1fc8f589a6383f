import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { ProfileDto, ProfileResponseDto, SettingDto } from './dto/users.dto';
import { SETTING_OPTIONS_BY_ID } from './setting-options';
import { UserPreferencesService } from './user-preferences.service';
import { UserProfile } from './user-profile.entity';
import { UsersRepository } from './users.repository';

const userNotFound = () => new AppException(ErrorCode.E4009, { message: 'User not found' });

@Injectable()
export class ProfileService {
  constructor(
    private readonly users: UsersRepository,
    private readonly preferences: UserPreferencesService,
  ) {}

  async getProfile(userId: string): Promise<ProfileResponseDto> {
    const profile = await this.users.findProfile(userId);
    if (profile) return toProfileDto(profile);
    if (!(await this.users.findById(userId))) throw userNotFound();
    return { user_id: userId, profile_data: {}, settings_mapping: [], updated_at: null };
  }

  async saveProfile(userId: string, dto: ProfileDto): Promise<ProfileResponseDto> {
    const saved = await this.users.saveProfile(userId, dto.profile_data, dto.settings_mapping ?? []);
    if (!saved) throw userNotFound();
    await this.preferences.invalidate(userId);
    return toProfileDto(saved);
  }

  async getSettings(userId: string): Promise<SettingDto[]> {
    return toSettingDtos(await this.users.listSettingIds(userId));
  }

  async saveSettings(userId: string, optionIds: number[]): Promise<SettingDto[]> {
    const ids = [...new Set(optionIds)];
    const unknown = ids.filter((id) => !SETTING_OPTIONS_BY_ID.has(id));
    if (unknown.length > 0) {
      throw new AppException(ErrorCode.E4006, {
        message: 'Unknown setting option id(s)',
        details: unknown.map((id) => ({ field: 'option_ids', message: `unknown option id ${id}` })),
      });
    }
    const types = ids.map((id) => SETTING_OPTIONS_BY_ID.get(id)!.setting_type);
    const repeated = types.filter((t, i) => types.indexOf(t) !== i);
    if (repeated.length > 0) {
      throw new AppException(ErrorCode.E4006, {
        message: 'At most one option per setting type',
        details: [...new Set(repeated)].map((t) => ({ field: 'option_ids', message: `more than one ${t} option` })),
      });
    }
    if (!(await this.users.replaceSettings(userId, ids))) throw userNotFound();
    await this.preferences.invalidate(userId);
    return toSettingDtos(ids.sort((a, b) => a - b));
  }
}

function toProfileDto(p: UserProfile): ProfileResponseDto {
  return {
    user_id: p.userId,
    profile_data: p.profileData,
    settings_mapping: p.settingsMapping,
    updated_at: new Date(p.updatedAt).toISOString(),
  };
}

function toSettingDtos(ids: number[]): SettingDto[] {
  return ids.flatMap((id) => {
    const o = SETTING_OPTIONS_BY_ID.get(id);
    return o ? [{ id: o.id, setting_type: o.setting_type, option_value: o.option_value }] : [];
  });
}
