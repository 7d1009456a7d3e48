// jest.config.js — one run over every tier in test/ (unit, native, convergence, e2e, gpu). GPU
// tests skip with a visible reason when no GPU is present. TypeScript is transformed by @swc/jest.
'use strict';
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  testTimeout: 60000,
};
