// `npm run admin -- create-key --email ops@example.com --permissions admin`: a first admin key without
// self-registration, on the machine, in `docker compose exec backend …` or `kubectl exec …`.
import { loadProcessConfig } from '../config/app-config';
import { createKey, describeIssued, parseAdminArgs, USAGE, UsageError } from './admin-cli';

async function main(): Promise<number> {
  let command;
  try {
    command = await parseAdminArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`admin: ${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.command === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  // The server's own configuration, read as main.ts reads it.
  const config = loadProcessConfig();
  if (!config) return 1;
  const issued = await createKey(config, command.dto);
  if (command.json) {
    process.stdout.write(JSON.stringify(issued, null, 2) + '\n');
  } else {
    process.stderr.write(describeIssued(issued, command.dto.email) + '\n');
    process.stdout.write(issued.api_key + '\n');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`admin: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
