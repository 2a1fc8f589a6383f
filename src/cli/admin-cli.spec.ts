import { parseAdminArgs, UsageError } from './admin-cli';

describe(parseAdminArgs.name, () => {
  it('should read create-key with its options, normalising the email and splitting permissions', async () => {
    const sut = await parseAdminArgs([
      'create-key',
      '--email',
      ' Ops@Example.com ',
      '--permissions',
      'admin, analytics:read',
      '--expires-in-days=30',
      '--name',
      'bootstrap',
      '--json',
    ]);
    expect(sut).toEqual({
      command: 'create-key',
      json: true,
      dto: expect.objectContaining({
        email: 'ops@example.com',
        permissions: ['admin', 'analytics:read'],
        expires_in_days: 30,
        name: 'bootstrap',
      }),
    });
  });

  it('should answer help with no command, help or --help', async () => {
    for (const argv of [[], ['help'], ['create-key', '--help']])
      expect(await parseAdminArgs(argv)).toEqual({ command: 'help' });
  });

  it.each([
    [['create-key'], /needs --email/],
    [['create-key', '--email', 'not-an-email'], /email must be a valid email address/],
    [['create-key', '--email', 'a@example.com', '--permissions', 'root'], /permissions must be one of/],
    [['create-key', '--email', 'a@example.com', '--expires-in-days', 'soon'], /whole number/],
    [['create-key', '--email', 'a@example.com', '--expires-in-days', '0'], /expires_in_days/],
    [['create-key', '--email', 'a@example.com', '--colour', 'red'], /colour/],
    [['delete-everything'], /unknown command/],
  ])('should refuse %j', async (argv, message) => {
    await expect(parseAdminArgs(argv)).rejects.toThrow(UsageError);
    await expect(parseAdminArgs(argv)).rejects.toThrow(message);
  });
});
