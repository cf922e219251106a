import type { Command } from 'commander';
import { ENV_DOCUMENTATION } from '../../config/env-schema.ts';
import { loadConfig } from '../../config/load-config.ts';

/** Replaces every password and key in a configuration with "********" (or "(not set)"). */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => {
        if (key === 'password' || /encryptionKey$/i.test(key)) return [key, inner === undefined ? '(not set)' : '********'];
        if (key === 'url' && typeof inner === 'string') return [key, inner.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:********@')];
        return [key, maskSecrets(inner)];
      }),
    );
  }
  return value;
}

export function environmentHelp(): string {
  const width = Math.max(...ENV_DOCUMENTATION.map(([name]) => name.length));
  return ['Environment variables (also read from ./.env; the real environment wins):', ...ENV_DOCUMENTATION.map(([name, fallback, meaning]) => `  ${name.padEnd(width)}  ${meaning} [default: ${fallback}]`)].join('\n');
}

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('print the effective configuration, passwords masked')
    .addHelpText('after', `\n${environmentHelp()}`)
    .action(() => {
      const config = loadConfig();
      console.log(JSON.stringify(maskSecrets(config), null, 2));
    });
}
