import { expect, it } from 'vitest';
import { formatEventStatus } from '../../src/events/event-status.ts';

it('shows one line per consumer group: its total lag and the topics behind', () => {
  const text = formatEventStatus({
    mode: 'redis',
    pending: 3,
    oldestPendingSeconds: 1.4,
    groups: [
      { group: 'notification.dispatch', topic: 'orders', pending: 0, lag: 0 },
      { group: 'notification.dispatch', topic: 'trades', pending: 2, lag: 5 },
      { group: 'notification.dispatch', topic: 'risk', pending: 0, lag: 1 },
      { group: 'analytics.live', topic: 'trades', pending: null, lag: null },
    ],
  });
  expect(text.split('\n')).toEqual([
    'Events        Redis Streams, 3 events waiting for the relay, oldest 1 s',
    '              notification.dispatch over 3 topics: lag 6 (trades 5, risk 1), 2 unacknowledged',
    '              analytics.live on trades: lag ?',
  ]);
});
