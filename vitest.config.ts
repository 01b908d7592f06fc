import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      // A floor just below what `npm run coverage` measured (test/unit): raise it as coverage
      // rises, never lower it to let a change through.
      thresholds: { statements: 71.5, branches: 70.5, functions: 69, lines: 73.5 },
    },
  },
});
