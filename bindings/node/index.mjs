// llmsvc for Node.js: ES module entry point, the same objects as the CommonJS one.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const llmsvc = require('./index.cjs');

export const {
  Client,
  EventType,
  GenerateResponse,
  ResponseStream,
  coreVersion,
  nativeStats,
  loadConfigFile,
  Status,
  StatusError,
  LlmsvcError,
  RateLimitedError,
  InsufficientQuotaError,
  UnsupportedRegionError,
  AuthError,
  PermissionError,
  BadRequestError,
  NotFoundError,
  ConflictError,
  ServerError,
  TimeoutError,
  ConnectionError,
  CancelledError,
  DeadlineExceededError,
  ShutDownError,
  InvalidRequestError,
  ProtocolError,
  BudgetExceededError,
  SchemaMismatchError,
  InternalError,
  LoadShedError,
  errorClasses,
} = llmsvc;
