/**
 * Database errors, classified by SQLSTATE (never by message text, which changes with the
 * server's language and version).
 */

/** An error meant for a person: the CLI prints its message alone, without a stack trace. */
export class UserFacingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserFacingError';
  }
}

/** The fields node-postgres puts on a server error. */
export interface PgErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  position?: string;
}

/** A server error with its SQLSTATE; subclasses name the ones callers handle. */
export class DatabaseError extends Error {
  readonly sqlstate: string;
  readonly detail?: string | undefined;
  readonly constraint?: string | undefined;
  readonly table?: string | undefined;
  readonly column?: string | undefined;

  constructor(source: Error & PgErrorFields) {
    super(source.message, { cause: source });
    this.name = new.target.name;
    this.sqlstate = source.code ?? 'XX000';
    this.detail = source.detail;
    this.constraint = source.constraint;
    this.table = source.table;
    this.column = source.column;
  }
}

/** 40001: the transaction lost a serialization race; running it again may succeed. */
export class SerializationFailureError extends DatabaseError {}
/** 40P01: the server broke a deadlock by aborting this transaction; running it again may succeed. */
export class DeadlockDetectedError extends DatabaseError {}
/** 23505 */
export class UniqueViolationError extends DatabaseError {}
/** 23503 */
export class ForeignKeyViolationError extends DatabaseError {}
/** 23514 */
export class CheckViolationError extends DatabaseError {}
/** 23502 */
export class NotNullViolationError extends DatabaseError {}
/** 42501: the role lacks a privilege (least privilege at work). */
export class InsufficientPrivilegeError extends DatabaseError {}
/** 57014: statement_timeout or a cancel request stopped the statement. */
export class QueryCanceledError extends DatabaseError {}

const BY_SQLSTATE: Record<string, new (source: Error & PgErrorFields) => DatabaseError> = {
  '40001': SerializationFailureError,
  '40P01': DeadlockDetectedError,
  '23505': UniqueViolationError,
  '23503': ForeignKeyViolationError,
  '23514': CheckViolationError,
  '23502': NotNullViolationError,
  '42501': InsufficientPrivilegeError,
  '57014': QueryCanceledError,
};

/** True for an error the server raised (it carries a five-character SQLSTATE). */
export function isServerError(error: unknown): error is Error & PgErrorFields {
  return error instanceof Error && typeof (error as PgErrorFields).code === 'string' && /^[0-9A-Z]{5}$/.test((error as PgErrorFields).code!);
}

/** Wraps a server error in its typed class; anything else is returned unchanged. */
export function toDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseError || !isServerError(error)) return error;
  const ErrorClass = BY_SQLSTATE[error.code!] ?? DatabaseError;
  return new ErrorClass(error);
}

/** Serialization failures and deadlocks: the whole transaction may be run again. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = error instanceof DatabaseError ? error.sqlstate : isServerError(error) ? error.code : undefined;
  return code === '40001' || code === '40P01';
}
