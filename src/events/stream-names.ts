/** Redis key and channel names, all under one configurable prefix. */
export interface StreamNames {
  /** The stream of a topic, e.g. tradedb:stream:orders. */
  stream(topic: string): string;
  /** The pub/sub channel of a topic, for live listeners. */
  channel(topic: string): string;
  /** Holds the random id that tells one Redis lifetime from the next (see RedisStreamSink). */
  sinkId: string;
}

export function streamNames(prefix: string): StreamNames {
  const streamPrefix = `${prefix}:stream:`;
  return {
    stream: (topic) => `${streamPrefix}${topic}`,
    channel: (topic) => `${prefix}:live:${topic}`,
    sinkId: `${prefix}:sink-id`,
  };
}
