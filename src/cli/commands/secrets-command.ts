import type { Command } from 'commander';
import { UserFacingError } from '../../db/errors.ts';
import { rotateEncryptionKey } from '../../ops/secret-rotation.ts';
import { withOwnerPool } from '../database-session.ts';

/** `tradedb secrets rotate-key`. */
export function registerSecretsCommand(program: Command): void {
  const secrets = program.command('secrets').description('secrets stored encrypted with pgcrypto (notification targets)');
  secrets
    .command('rotate-key')
    .description('re-encrypt every secret from TRADEDB_ENCRYPTION_KEY to TRADEDB_NEW_ENCRYPTION_KEY in one transaction (all or nothing; keys are read from the environment, never from arguments)')
    .action(async () => {
      const rotated = await withOwnerPool(async (owner, _pools, { config }) => {
        const { encryptionKey, newEncryptionKey } = config.notifications;
        if (!encryptionKey) throw new UserFacingError('TRADEDB_ENCRYPTION_KEY is not set: it must be the key the secrets are stored with now.');
        if (!newEncryptionKey) throw new UserFacingError('TRADEDB_NEW_ENCRYPTION_KEY is not set: set it to the new key (a long random string, e.g. `openssl rand -hex 24`).');
        return rotateEncryptionKey(owner, encryptionKey, newEncryptionKey);
      });
      console.log(`${rotated} secret(s) re-encrypted. Now set TRADEDB_ENCRYPTION_KEY to the new key for every tradedb process (and unset TRADEDB_NEW_ENCRYPTION_KEY), then restart them.`);
    });
}
