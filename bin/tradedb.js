#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so `npx tradedb` works right after `npm ci`
// with no build step and can never run stale compiled output.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
