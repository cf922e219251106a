import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DatabaseError, UserFacingError } from '../db/errors.ts';
import { serviceLogger } from '../services/logging/logger.ts';

/** An error the API answers with its own status and code, e.g. 401 unauthorized. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The one error shape of the API: a code, a message for people, the field at fault if any. Never a stack trace. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string | undefined };
}

/** The status of the services' typed errors; any other UserFacingError is a 400. */
const USER_ERROR_STATUS: Record<string, number> = {
  NotFoundError: 404,
  UnknownSymbolError: 404,
  DuplicateClientOrderIdError: 409,
  ConcurrentUpdateError: 409,
  RiskRejectedError: 422,
};

function body(code: string, message: string, field?: string): ApiErrorBody {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

/**
 * Maps every error to its JSON answer: request validation (400, the field named), our own
 * ApiError, the services' typed errors for bad input (UserFacingError: 400/409), Fastify's own
 * (malformed JSON, a body too large: their status), and anything else as 500 with its detail only
 * in the log.
 */
export function sendApiError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const issue = error.validation[0]!;
    const where = (error as FastifyError).validationContext ?? 'body';
    const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const unknown = (issue.params as { issue?: { code?: string; keys?: string[] } }).issue;
    const field = unknown?.code === 'unrecognized_keys' ? unknown.keys?.join(', ') : path;
    void reply.code(400).send(body('invalid_request', `${where}${field ? `.${field}` : ''}: ${issue.message}`, field || undefined));
    return;
  }
  if (error instanceof ApiError) {
    void reply.code(error.statusCode).send(body(error.code, error.message, error.field));
    return;
  }
  if (error instanceof UserFacingError) {
    const code = error.name.replace(/Error$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
    void reply.code(USER_ERROR_STATUS[error.name] ?? 400).send(body(code, error.message, (error as { field?: string }).field));
    return;
  }
  const status = (error as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    void reply.code(status).send(body((error as FastifyError).code?.toLowerCase() ?? 'bad_request', error.message));
    return;
  }
  serviceLogger('api').error({ err: error, url: request.url, method: request.method }, `api: ${request.method} ${request.url} failed: ${error.message}`);
  void reply.code(500).send(body(error instanceof DatabaseError ? 'database_error' : 'internal_error', 'The request failed on the server; its details are in the server log.'));
}
