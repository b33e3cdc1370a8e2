export * from './model.js';
export * from './events.js';
export * from './errors.js';
export * from './search-attributes.js';
