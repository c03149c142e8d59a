export { generateEvents, plantedCounts, rng, PLANTED_RULES, type GenerateOptions } from './generate-events.js';
export { addNoise, namesInQueries, type NamePools } from './noise.js';
