/**
 * hypergrad/index.ts — the float64 hypergradient oracle (ALGORITHM.md section 3): validation
 * problems, lower-level solvers, the exact hypergradient (finite differences, implicit
 * differentiation), the cheap estimates and the study behind docs/hypergradient.md.
 * Tested in test/unit/hypergrad-validation.test.ts.
 */
export * from './cp';
export * from './exact';
export * from './metrics';
export * from './problem';
export * from './solver';
export * from './study';
