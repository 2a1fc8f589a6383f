// PGlite loads its wasm with a dynamic import(): the npm scripts run jest with --experimental-vm-modules.
// Two projects: unit specs live beside the code; e2e specs in test/ run against real PostgreSQL,
// Redis and the model-server emulator, each file in its own database (see test/support).
// ts-jest in transpile-only mode (isolatedModules): fast, and decorator metadata for Nest DI.
const transform = { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] };
module.exports = {
  // Per-project testTimeout is ignored by jest 30; this one covers the e2e boots (PGlite takes seconds under load).
  testTimeout: 60000,
  // Tests spawn real processes (Prometheus, redis-server, the server): never let a stray handle hang CI.
  forceExit: true,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/src', '<rootDir>/emulator'],
      testRegex: '\\.spec\\.ts$',
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform,
      roots: ['<rootDir>/test'],
      testRegex: '\\.e2e-spec\\.ts$',
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
