export * from './running-stats.js';
export * from './service-time.js';
export * from './output-length.js';
export * from './tool-time.js';
export * from './job-length.js';
