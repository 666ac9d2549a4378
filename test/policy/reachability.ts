/**
 * The reachability computation lives in src/reachability.ts, so the per-environment report
 * (src/report.ts) and the policy tests share it.
 */
export * from '../../src/reachability';
