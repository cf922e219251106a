import { configureLogging } from '../../src/services/logging/logger.ts';

// Service code under test logs warnings (a failed ingestion run, a rejected order) that would
// otherwise fill the test output; tests that check logging install their own targets.
configureLogging({ level: 'silent' });
