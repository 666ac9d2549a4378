/**
 * The reviewed exceptions live in one file, src/policy-exceptions.ts, which the per-environment
 * report (src/report.ts) lists too; this module keeps the tests' import path.
 */
export * from '../../src/policy-exceptions';
