import { afterAll, beforeAll, expect, it } from 'vitest';
import { rotateEncryptionKey, SecretRotationError } from '../../src/ops/secret-rotation.ts';
import { NotificationConfigService } from '../../src/services/notification/notification-config-service.ts';
import { openTradingDatabase, type TradingDatabase } from '../support/trading-database.ts';
import type pg from 'pg';

const OLD = 'old-key-0123456789abcdef';
const NEW = 'new-key-fedcba9876543210';
let trading: TradingDatabase;
let owner: pg.Pool;

beforeAll(async () => {
  trading = await openTradingDatabase('secrets', { accounts: [], symbols: [] });
  owner = trading.owner;
});
afterAll(async () => {
  await trading?.close();
});

/** Each stored target decrypted with `key` (null where it does not decrypt). */
async function decryptedWith(key: string): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  const { rows } = await trading.admin.query<{ name: string }>('SELECT name FROM notification.notification_configs WHERE target_encrypted IS NOT NULL ORDER BY name');
  for (const { name } of rows) {
    out[name] = await trading.admin
      .query<{ target: string }>('SELECT shared.pgp_sym_decrypt(target_encrypted, $2) AS target FROM notification.notification_configs WHERE name = $1', [name, key])
      .then((result) => result.rows[0]!.target, () => null);
  }
  return out;
}

it('re-encrypts every secret under the new key in one transaction; a secret under another key stops it, named, with nothing changed', async () => {
  const configs = new NotificationConfigService(trading.pools.services.notification, OLD);
  await configs.add({ name: 'hook-a', channel: 'webhook', target: { url: 'https://hooks.example.com/A-SECRET' } });
  await configs.add({ name: 'hook-b', channel: 'webhook', target: { url: 'https://hooks.example.com/B-SECRET' } });
  await new NotificationConfigService(trading.pools.services.notification, 'stray-key-0123456789').add({ name: 'stray', channel: 'webhook', target: { url: 'https://hooks.example.com/STRAY' } });
  const before = await trading.admin.query('SELECT name, target_encrypted FROM notification.notification_configs ORDER BY name');

  const refused = rotateEncryptionKey(owner, OLD, NEW);
  await expect(refused).rejects.toBeInstanceOf(SecretRotationError);
  await expect(refused).rejects.toThrow(/1 secret\(s\) do not decrypt with the current TRADEDB_ENCRYPTION_KEY: notification\.notification_configs "stray"/);
  expect((await trading.admin.query('SELECT name, target_encrypted FROM notification.notification_configs ORDER BY name')).rows).toEqual(before.rows);

  await trading.admin.query("DELETE FROM notification.notification_configs WHERE name = 'stray'");
  expect(await rotateEncryptionKey(owner, OLD, NEW)).toBe(2);
  expect(await decryptedWith(NEW)).toEqual({ 'hook-a': '{"url":"https://hooks.example.com/A-SECRET"}', 'hook-b': '{"url":"https://hooks.example.com/B-SECRET"}' });
  expect(await decryptedWith(OLD)).toEqual({ 'hook-a': null, 'hook-b': null });
  await expect(rotateEncryptionKey(owner, NEW, 'short')).rejects.toThrow(/at least 16 characters/);
});
