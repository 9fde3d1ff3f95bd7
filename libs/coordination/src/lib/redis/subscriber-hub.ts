import Redis from 'ioredis';

type MessageHandler = (message: string) => void;

interface Channel {
  handlers: Set<MessageHandler>;
  subscribed: Promise<unknown>;
}

/**
 * One Redis pub/sub connection shared by every watch of a process (registry
 * watches, flags, elections). Pub/sub is at-most-once: whatever is published
 * while the connection is down (a Sentinel failover, a network blip) is lost,
 * so every user also resyncs by reading the full state; `onReconnect` tells
 * them when, after ioredis has subscribed again.
 */
export class SubscriberHub {
  private readonly channels = new Map<string, Channel>();
  private readonly reconnectListeners = new Set<() => void>();
  private connectedOnce: boolean;

  constructor(private readonly redis: Redis) {
    this.connectedOnce = redis.status === 'ready';
    redis.on('message', (channel: string, message: string) => {
      for (const h of this.channels.get(channel)?.handlers ?? []) h(message);
    });
    redis.on('ready', () => {
      if (!this.connectedOnce) {
        this.connectedOnce = true;
        return;
      }
      // ioredis re-sends SUBSCRIBE right after emitting 'ready'; a PING queued
      // behind it answers once the subscriptions are in place again
      setImmediate(() => {
        redis
          .ping()
          .catch(() => undefined)
          .finally(() => {
            for (const l of this.reconnectListeners) l();
          });
      });
    });
  }

  /** Subscribes `handler` to `channel`; resolves once Redis confirmed the subscription. */
  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { handlers: new Set(), subscribed: this.redis.subscribe(channel) };
      this.channels.set(channel, entry);
    }
    entry.handlers.add(handler);
    try {
      await entry.subscribed;
    } catch (err) {
      entry.handlers.delete(handler);
      if (entry.handlers.size === 0) this.channels.delete(channel);
      throw err;
    }
    return async () => {
      const current = this.channels.get(channel);
      if (!current?.handlers.delete(handler) || current.handlers.size > 0) return;
      this.channels.delete(channel);
      await this.redis.unsubscribe(channel).catch(() => undefined);
    };
  }

  /** Called after every reconnect of the pub/sub connection; returns a function that removes the listener. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  close(): void {
    this.channels.clear();
    this.reconnectListeners.clear();
    this.redis.disconnect();
  }
}
