'use strict';
// llmsvc for Node.js: CommonJS entry point. See README.md and index.d.cts.

const { Client, EventType, ResponseStream, coreVersion, nativeStats, loadConfigFile } = require('./lib/client.cjs');
const { GenerateResponse } = require('./lib/response.cjs');
const errors = require('./lib/errors.cjs');

module.exports = {
  Client,
  EventType,
  GenerateResponse,
  ResponseStream,
  coreVersion,
  nativeStats,
  loadConfigFile,
  Status: errors.Status,
  StatusError: errors.StatusError,
  LlmsvcError: errors.LlmsvcError,
  RateLimitedError: errors.RateLimitedError,
  InsufficientQuotaError: errors.InsufficientQuotaError,
  UnsupportedRegionError: errors.UnsupportedRegionError,
  AuthError: errors.AuthError,
  PermissionError: errors.PermissionError,
  BadRequestError: errors.BadRequestError,
  NotFoundError: errors.NotFoundError,
  ConflictError: errors.ConflictError,
  ServerError: errors.ServerError,
  TimeoutError: errors.TimeoutError,
  ConnectionError: errors.ConnectionError,
  CancelledError: errors.CancelledError,
  DeadlineExceededError: errors.DeadlineExceededError,
  ShutDownError: errors.ShutDownError,
  InvalidRequestError: errors.InvalidRequestError,
  ProtocolError: errors.ProtocolError,
  BudgetExceededError: errors.BudgetExceededError,
  SchemaMismatchError: errors.SchemaMismatchError,
  InternalError: errors.InternalError,
  LoadShedError: errors.LoadShedError,
  errorClasses: Object.freeze({ ...errors.errorClasses }),
};
