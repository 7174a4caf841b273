// llmsvc for Node.js: ES module entry point, the same objects as the CommonJS one (whose
// names Node finds statically).
export * from './index.cjs';
