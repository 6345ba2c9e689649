export * from './store.js';
export * from './errors.js';
export * from './influxql.js';
export * from './line-protocol.js';
