import type pg from 'pg';
import { UserFacingError } from '../db/errors.ts';
import { withTransaction } from '../db/transaction.ts';

/** A column holding pgcrypto ciphertext (pgp_sym_encrypt under TRADEDB_ENCRYPTION_KEY), and the column naming its rows. */
interface EncryptedColumn {
  table: string;
  column: string;
  rowName: string;
}

/** Every column tradedb encrypts; a new secret column is added here, and rotation covers it. */
export const ENCRYPTED_COLUMNS: readonly EncryptedColumn[] = [{ table: 'notification.notification_configs', column: 'target_encrypted', rowName: 'name' }];

export class SecretRotationError extends UserFacingError {
  constructor(readonly undecryptable: string[]) {
    super(
      `Nothing was changed: ${undecryptable.length} secret(s) do not decrypt with the current TRADEDB_ENCRYPTION_KEY: ${undecryptable.join(', ')}. ` +
        'Set TRADEDB_ENCRYPTION_KEY to the key they were stored with (or re-add those rows), then rotate again.',
    );
    this.name = 'SecretRotationError';
  }
}

/**
 * Re-encrypts every secret from `oldKey` to `newKey` in one transaction, as the owner role. Every
 * secret is first decrypted with the old key; if any fails, the rows are named and nothing
 * changes. Keys travel as query parameters only. Returns how many secrets were re-encrypted.
 */
export async function rotateEncryptionKey(owner: pg.Pool, oldKey: string, newKey: string): Promise<number> {
  if (newKey.length < 16) throw new UserFacingError('The new key must have at least 16 characters (a long random string).');
  if (newKey === oldKey) throw new UserFacingError('The new key is the current key: nothing to rotate.');
  return withTransaction(owner, async (client) => {
    const undecryptable = await undecryptableSecrets(client, oldKey);
    if (undecryptable.length > 0) throw new SecretRotationError(undecryptable);
    let rotated = 0;
    for (const { table, column } of ENCRYPTED_COLUMNS) {
      const result = await client.query(`UPDATE ${table} SET ${column} = shared.pgp_sym_encrypt(shared.pgp_sym_decrypt(${column}, $1), $2) WHERE ${column} IS NOT NULL`, [oldKey, newKey]);
      rotated += result.rowCount ?? 0;
    }
    return rotated;
  });
}

/**
 * The stored secrets `key` does not open, named "<table> <row>" (inside the caller's transaction:
 * each try runs under a savepoint, since pgcrypto raises on a wrong key).
 */
export async function undecryptableSecrets(client: pg.PoolClient, key: string): Promise<string[]> {
  const undecryptable: string[] = [];
  for (const { table, column, rowName } of ENCRYPTED_COLUMNS) {
    const { rows } = await client.query<{ name: string }>(`SELECT ${rowName}::text AS name FROM ${table} WHERE ${column} IS NOT NULL ORDER BY 1`);
    for (const { name } of rows) {
      await client.query('SAVEPOINT try_decrypt');
      try {
        await client.query(`SELECT shared.pgp_sym_decrypt(${column}, $2) FROM ${table} WHERE ${rowName}::text = $1`, [name, key]);
        await client.query('RELEASE SAVEPOINT try_decrypt');
      } catch {
        await client.query('ROLLBACK TO SAVEPOINT try_decrypt');
        undecryptable.push(`${table} ${JSON.stringify(name)}`);
      }
    }
  }
  return undecryptable;
}
