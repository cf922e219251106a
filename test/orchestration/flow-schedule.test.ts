import { describe, expect, it } from 'vitest';
import { nextRuns } from '../../src/orchestration/flow-schedule.ts';
import { findFlow } from '../../src/orchestration/flow-trigger.ts';

const iso = (dates: Date[]) => dates.map((date) => date.toISOString().slice(0, 16));

describe('flow schedules (UTC)', () => {
  // Friday 27 November 2026, 23:00 UTC.
  const friday = new Date('2026-11-27T23:00:00Z');

  it('daily ingestion runs at 22:15 Monday to Friday', () => {
    expect(findFlow('daily-ingestion').cron).toBe('15 22 * * 1-5');
    expect(iso(nextRuns(findFlow('daily-ingestion').cron!, friday, 6))).toEqual(['2026-11-30T22:15', '2026-12-01T22:15', '2026-12-02T22:15', '2026-12-03T22:15', '2026-12-04T22:15', '2026-12-07T22:15']);
  });

  it('reference data is refreshed on Saturday at 06:00', () => {
    expect(iso(nextRuns(findFlow('weekly-reference-data').cron!, friday, 2))).toEqual(['2026-11-28T06:00', '2026-12-05T06:00']);
  });

  it('the weekly backup runs on Sunday at 04:00', () => {
    expect(iso(nextRuns(findFlow('weekly-backup').cron!, friday, 3))).toEqual(['2026-11-29T04:00', '2026-12-06T04:00', '2026-12-13T04:00']);
  });

  it('maintenance runs nightly at 03:30, end-of-day analytics at 22:30 on weekdays', () => {
    expect(iso(nextRuns(findFlow('nightly-maintenance').cron!, friday, 3))).toEqual(['2026-11-28T03:30', '2026-11-29T03:30', '2026-11-30T03:30']);
    expect(iso(nextRuns(findFlow('end-of-day-analytics').cron!, friday, 2))).toEqual(['2026-11-30T22:30', '2026-12-01T22:30']);
  });

  it('a run exactly at the given minute is not "next"', () => {
    expect(iso(nextRuns('15 22 * * 1-5', new Date('2026-11-30T22:15:00Z'), 1))).toEqual(['2026-12-01T22:15']);
  });
});
