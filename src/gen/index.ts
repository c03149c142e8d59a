export { generateEvents, plantedCounts, PLANTED_RULES, type GenerateOptions } from './generate-events.js';
