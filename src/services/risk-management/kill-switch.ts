import type { Queryable } from '../../db/queryable.ts';
import { KILL_SWITCH_KEY } from './risk-limit-table.ts';

/**
 * Turns the kill switch on (the pre-trade check rejects every new order from the next one on) or
 * off. It lives in shared.system_config, which only the owner role writes: pass an owner pool.
 */
export async function setKillSwitch(ownerPool: Queryable, enabled: boolean, reason?: string): Promise<void> {
  await ownerPool.query(
    `INSERT INTO shared.system_config (key, value, description) VALUES ($1, $2, 'on: the pre-trade check rejects every new order')
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = shared.system_config.version + 1, updated_by = current_user`,
    [KILL_SWITCH_KEY, JSON.stringify(reason ? { enabled, reason } : { enabled })],
  );
}
