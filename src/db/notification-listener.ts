import pg from 'pg';

export interface NotificationListener {
  close(): Promise<void>;
}

/**
 * LISTENs on `channel` over a connection of its own (a pooled one would be handed to others),
 * made with `pool`'s settings. `onWake` runs on each notification and after every
 * (re)connection, since notifications sent while disconnected are lost: the caller then looks
 * for work itself. A lost connection is retried with backoff up to 5 s until close().
 */
export async function listenForNotifications(
  pool: pg.Pool,
  channel: string,
  onWake: () => void,
  onError: (error: Error) => void = () => undefined,
): Promise<NotificationListener> {
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let delayMs = 100;

  const connect = async (): Promise<void> => {
    // pg-pool keeps the password out of its options' enumerable keys (so that they can be logged): copy it by name.
    const next = new pg.Client({ ...pool.options, password: pool.options.password, statement_timeout: undefined } as pg.ClientConfig);
    next.on('notification', (message) => {
      if (message.channel === channel) onWake();
    });
    next.on('error', (error) => {
      onError(error);
      reconnectLater(next);
    });
    next.on('end', () => reconnectLater(next));
    await next.connect();
    await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    if (closed) {
      await next.end();
      return;
    }
    client = next;
    delayMs = 100;
    onWake();
  };

  const reconnectLater = (lost: pg.Client): void => {
    if (closed || client !== lost) return;
    client = undefined;
    lost.end().catch(() => undefined);
    retryTimer = setTimeout(attempt, delayMs);
    delayMs = Math.min(delayMs * 2, 5_000);
  };

  const attempt = (): void => {
    retryTimer = undefined;
    connect().catch((error: Error) => {
      onError(error);
      if (closed) return;
      retryTimer = setTimeout(attempt, delayMs);
      delayMs = Math.min(delayMs * 2, 5_000);
    });
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
