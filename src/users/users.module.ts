import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { UserPreferencesPort } from '../common/ports/user-preferences.port';
import { ProfileService } from './profile.service';
import { User } from './user.entity';
import { UserPreferencesService } from './user-preferences.service';
import { UserProfile, UserSetting } from './user-profile.entity';
import { UsersController } from './users.controller';
import { UsersRepository } from './users.repository';
import { UsersService } from './users.service';

/** Users, onboarding profile and settings; provides UserPreferencesPort to the whole app. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([User, UserProfile, UserSetting]), ApiKeysModule],
  controllers: [UsersController],
  providers: [
    UsersRepository,
    UsersService,
    ProfileService,
    UserPreferencesService,
    { provide: UserPreferencesPort, useExisting: UserPreferencesService },
  ],
  exports: [UserPreferencesPort, UserPreferencesService],
})
export class UsersModule {}
