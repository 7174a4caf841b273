// Type declarations of the ES module entry point: the same as the CommonJS one.
export * from './index.cjs';
