import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { CacheModule } from '../cache/cache.module';
import { UserPreferencesPort } from '../common/ports/user-preferences.port';
import { ProfileService } from './profile.service';
import { User } from './user.entity';
import { UserPreferencesService } from './user-preferences.service';
import { UserProfile, UserSetting } from './user-profile.entity';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/**
 * Users: onboarding (self-service keys, login tokens, /users/me), profile and settings. Builds on
 * ApiKeysModule (keys and tokens), never the other way round; provides UserPreferencesPort.
 */
@Module({
  imports: [TypeOrmModule.forFeature([User, UserProfile, UserSetting]), ApiKeysModule, CacheModule],
  controllers: [UsersController],
  providers: [
    UsersRepository,
    UsersService,
    ProfileService,
    UserPreferencesService,
    { provide: UserPreferencesPort, useExisting: UserPreferencesService },
  ],
  exports: [UserPreferencesPort],
})
export class UsersModule {}
