export { generateEvents, indicatorDocuments, MINER_SHA256, plantedCounts, rng, MIN_PLANT_EVERY, PLANTED_RULES, type GenerateOptions } from './generate-events.js';
export { addNoise, namesInQueries, type NamePools } from './noise.js';
