/**
 * index.ts — the base networks the project pretrains itself and ships with the package
 * (architectures here, weights under data/models/).
 */
export { mnist8Mlp, mnist8MlpWeightsPath } from './mnist8';
