import type {} from 'vitest';

/** What global setup hands every test file (through vitest's provide/inject). */
export interface TestServerInfo {
  /** Environment that points tradedb at the test server, without database names. */
  env: Record<string, string>;
  /** Template databases, set up once per run; each test file clones them. */
  templateTrading: string;
  templateOrchestration: string;
  /** Prefix of every database this run creates, so they can be found and dropped. */
  prefix: string;
  /** 'external' (POSTGRES_HOST), 'local' (127.0.0.1:5432) or 'embedded'. */
  kind: 'external' | 'local' | 'embedded';
}

declare module 'vitest' {
  export interface ProvidedContext {
    tradedbTest: TestServerInfo;
  }
}

/** Every database a test run creates starts with this, then the run's start time in base 36. */
export const TEST_DATABASE_PREFIX = 'tdbt_';
