import { isServerError } from '../../db/errors.ts';
import type { Queryable } from '../../db/queryable.ts';

/** 42P07 duplicate_table, 23505 unique_violation (on pg_class): another loader created it first. */
const CREATED_CONCURRENTLY = new Set(['42P07', '23505']);

/**
 * Makes sure market_data has a partition for every month a batch touches, before the batch's
 * transaction: creating a partition locks the whole table, which a long load must not hold.
 * Creation is idempotent and serialized in the database (an advisory lock), so concurrent
 * loaders may ask for the same month. Months already seen by this keeper are not asked again.
 */
export class PartitionKeeper {
  private readonly ensuredMonths = new Set<number>();

  constructor(private readonly db: Queryable) {}

  /** `months`: first days of UTC months, as epoch milliseconds. */
  async ensure(months: Iterable<number>): Promise<void> {
    const missing = [...months].filter((month) => !this.ensuredMonths.has(month)).sort((a, b) => a - b);
    if (missing.length === 0) return;
    const dates = missing.map((month) => new Date(month).toISOString().slice(0, 10));
    try {
      await this.db.query('SELECT data_ingestion.ensure_market_data_partitions($1::date[])', [dates]);
    } catch (error) {
      // A loader racing us may win between our existence check and CREATE: the month exists,
      // which is all we wanted; asking once more finds it.
      if (!(isServerError(error) && CREATED_CONCURRENTLY.has(error.code ?? ''))) throw error;
      await this.db.query('SELECT data_ingestion.ensure_market_data_partitions($1::date[])', [dates]);
    }
    for (const month of missing) this.ensuredMonths.add(month);
  }
}
