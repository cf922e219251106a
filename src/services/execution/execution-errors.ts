import { UserFacingError } from '../../db/errors.ts';

/** Bad order or fill input: names the field at fault. Nothing was written. */
export class OrderInputError extends UserFacingError {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'OrderInputError';
  }
}

/** The account, symbol or order named does not exist (for this account). */
export class NotFoundError extends UserFacingError {
  constructor(readonly what: 'account' | 'symbol' | 'order', readonly key: string) {
    super(`Unknown ${what} ${key}.`);
    this.name = 'NotFoundError';
  }
}

/** The client order id was used before for an order with different content. */
export class DuplicateClientOrderIdError extends UserFacingError {
  constructor(readonly clientOrderId: string, readonly differences: string[]) {
    super(`Client order id ${clientOrderId} was already used for a different order (${differences.join(', ')} differ); use a new id.`);
    this.name = 'DuplicateClientOrderIdError';
  }
}

/** A fill that cannot apply to its order: the order is finished, or the fill exceeds what remains. */
export class FillRejectedError extends UserFacingError {
  constructor(message: string) {
    super(message);
    this.name = 'FillRejectedError';
  }
}

/** Someone else changed the row since it was read (optimistic locking); read it again and retry. */
export class ConcurrentUpdateError extends UserFacingError {
  constructor(readonly what: string, readonly expectedVersion: number) {
    super(`${what} was changed by someone else (expected version ${expectedVersion}); read it again and retry.`);
    this.name = 'ConcurrentUpdateError';
  }
}

/** The pre-trade check refused the order: it is stored as rejected, with a risk event per breach. */
export class RiskRejectedError extends UserFacingError {
  constructor(readonly orderId: number, readonly breaches: ReadonlyArray<{ type: string; detail: string }>) {
    super(`Order ${orderId} rejected by the risk check: ${breaches.map((breach) => breach.detail).join('; ')}.`);
    this.name = 'RiskRejectedError';
  }
}
