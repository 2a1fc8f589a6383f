import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { ApiKeyRepository } from '../api-keys/api-key.repository';
import { ApiKeyAuthService } from '../api-keys/api-key-auth.service';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { AdminIssueApiKeyDto, IssuedApiKeyDto } from '../api-keys/dto/api-key.dto';
import { PERMISSIONS } from '../common/auth/authenticated.decorator';
import { AppConfig } from '../config/app-config';
import { dataSourceOptions } from '../database/data-source.options';
import { ENTITIES } from '../database/entities';
import { runMigrations } from '../database/run-migrations';

export const USAGE = `Usage: npm run admin -- <command> [options]

Commands:
  create-key   Issue an API key for a user (created if new) and print it once.
      --email <address>             required
      --permissions <list>          comma-separated: ${PERMISSIONS.join(', ')}
                                    (default: code_generation,code_completion,profile)
      --name <label>                a label shown when listing keys
      --username <name>             for a new user (default: the email's local part)
      --expires-in-days <n>         default: API_KEY_EXPIRY_DAYS
      --rate-limit <n>              requests per RATE_LIMIT_WINDOW_MINUTES for this key
      --max-concurrent-streams <n>  streams at once for this key
      --json                        print the whole result as JSON instead of the key alone

It uses the server's configuration (environment, or .env in the working directory): DATABASE_URL, or the
embedded database under DATA_DIR (stop the server first: the embedded database has one user at a time).
The key goes to stdout, everything else to stderr.`;

export class UsageError extends Error {}

export interface CreateKeyCommand {
  command: 'create-key';
  dto: AdminIssueApiKeyDto;
  json: boolean;
}

const integer = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  return Number(raw);
};

/** argv after the script name → a validated command, or a UsageError naming every problem. */
export async function parseAdminArgs(argv: string[]): Promise<CreateKeyCommand | { command: 'help' }> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        email: { type: 'string' },
        permissions: { type: 'string' },
        name: { type: 'string' },
        username: { type: 'string' },
        'expires-in-days': { type: 'string' },
        'rate-limit': { type: 'string' },
        'max-concurrent-streams': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0 || positionals[0] === 'help') return { command: 'help' };
  if (positionals[0] !== 'create-key' || positionals.length > 1)
    throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  if (values.email === undefined) throw new UsageError('create-key needs --email');
  const dto = plainToInstance(AdminIssueApiKeyDto, {
    email: values.email,
    username: values.username,
    name: values.name,
    permissions: values.permissions
      ?.split(',')
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    expires_in_days: integer('expires-in-days', values['expires-in-days']),
    rate_limit: integer('rate-limit', values['rate-limit']),
    max_concurrent_streams: integer('max-concurrent-streams', values['max-concurrent-streams']),
  });
  // The same rules as POST /api/v1/admin/api-keys.
  const errors = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) {
    throw new UsageError(errors.flatMap((e) => Object.values(e.constraints ?? {})).join('; '));
  }
  return { command: 'create-key', dto, json: values.json };
}

/** Opens the configured database (migrating it if needed, under the servers' advisory lock) and issues the key. */
export async function createKey(config: AppConfig, dto: AdminIssueApiKeyDto): Promise<IssuedApiKeyDto> {
  const ds = await new DataSource({ ...dataSourceOptions(config.database), entities: ENTITIES }).initialize();
  try {
    await runMigrations(ds);
    // Issuing never touches the auth cache (only revoking and rotating do), so it needs no ApiKeyAuthService.
    const service = new ApiKeysService(config, new ApiKeyRepository(ds), undefined as unknown as ApiKeyAuthService);
    return await service.issueByAdmin(dto);
  } finally {
    await ds.destroy();
  }
}

/** What the operator reads on stderr; the key itself goes alone to stdout. */
export function describeIssued(key: IssuedApiKeyDto, email: string): string {
  return [
    `API key ${key.key_prefix}… for ${email} (user ${key.user_id}, key id ${key.key_id})`,
    `permissions: ${key.permissions.join(', ')}; expires ${key.expires_at}`,
    'Store it now: it is shown once and cannot be retrieved again.',
  ].join('\n');
}
