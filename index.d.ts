// Type declarations of require('ganomede-events').
import { EventEmitter } from 'events';
import type { Agent as HttpAgent } from 'http';
import type { Agent as HttpsAgent } from 'https';

export interface GanomedeEvent<D = any> {
  id: number;
  timestamp: number;
  from: string;
  type: string;
  data?: D;
}

export interface EventToSend<D = any> {
  from: string;
  type: string;
  /** a truthy object or array */
  data?: D;
}

/** An HTTP error (statusCode > 0) or a network error (statusCode 0, code set). */
export interface RequestError extends Error {
  statusCode: number;
  /** the server's `code`, e.g. 'InvalidCredentialsError' (HTTP errors) */
  restCode?: string;
  /** errno-style name, e.g. 'ECONNREFUSED' (network errors) */
  code?: string;
  /** the parsed JSON body, or its raw text */
  body?: any;
}

/** Emitted as 'error' before the events of a poll answer (docs/retention.md):
 * 'EventsLost': the ids from..to were removed by retention before they were read;
 * 'CursorReset': the cursor is no longer on the channel's history (Redis flushed,
 * restored, or failed over and its ids given to new events); counter is the
 * channel's last id; the events start again after the last id both histories
 * share (at 1 when none). */
export interface SignalError extends Error {
  statusCode: 200;
  code: 'EventsLost' | 'CursorReset';
  from?: number;
  to?: number;
  counter?: number;
}

export type Callback<T> = (err: RequestError | TypeError | null, result?: T) => void;

/** The code of a RequestError with statusCode 0 may also be 'ResponseTooLarge'
 * (the answer passed maxResponseBytes); a request refused before it was sent
 * has code 'ERR_CLIENT_CLOSED' (after close()) or 'ERR_INVALID_ARG'. */

export interface ConnectionOptions {
  /** API_SECRET of the server; required, non-empty */
  secret: string;
  /** 'http' (default) or 'https' */
  protocol?: 'http' | 'https' | 'http:' | 'https:';
  /** default 'localhost' */
  hostname?: string;
  /** default 8000 */
  port?: number;
  /** keepAlive: false and a finite maxSockets are honoured */
  agent?: HttpAgent | HttpsAgent;
  /** https: a CA bundle (PEM file) to trust instead of the system's */
  caFile?: string;
  /** https: false skips certificate verification */
  rejectUnauthorized?: boolean;
  /** ms; any request (long-polls included) without a complete answer by then
   * fails with code 'ETIMEDOUT'; default 60000 (keep it above the server's
   * POLL_TIMEOUT); 0: none */
  requestTimeout?: number;
  /** ms; default 10000 */
  connectTimeout?: number;
  /** bytes; a larger answer fails with code 'ResponseTooLarge'; default 16 MiB */
  maxResponseBytes?: number;
}

export interface ClientOptions extends ConnectionOptions {
  /** the events endpoint, default '/events/v1/events'; the prefix form '/events/v1' is accepted */
  pathname?: string;
  /** `limit` of each poll request; default: not sent (server default 100) */
  limit?: number;
  /** Poll each channel with a request of its own instead of one long-poll for all (docs/client.md). */
  pollPerChannel?: boolean;
  /**
   * Each send carries a random Idempotency-Key and is sent again (same key, same body) after a failure
   * without an answer (ECONNREFUSED, ECONNRESET, ETIMEDOUT...) or a 503, so that it is stored exactly once
   * through a failover (docs/client.md, "Sends through a failover"). Default true. false: no key, one try
   * (against a server that ignores keys, a retry could store the event twice).
   */
  idempotencyKeys?: boolean;
  /** tries of a send in all, 1 for no retry; default 8 */
  sendTries?: number;
  /** the first wait before a send is tried again, in ms, doubled each time; default 100 */
  sendBackoff?: number;
  /** the longest wait between tries of a send, in ms; default 2000 */
  sendMaxBackoff?: number;
}

export class Cursor {
  constructor(channel: string, options?: { after?: number | null; limit?: number | null });
  readonly channel: string;
  after: number | null;
  limit: number | null;
  advance(events: GanomedeEvent[]): Cursor;
  toQuery(): { channel: string; after?: number; limit?: number };
}

/** After the events or the error of every request of a channel
 * (docs/client.md, "Cycles and their cursors"): the engine's cursors. */
export interface Cycle {
  /** the request that completed (after: null for the first, which omits it) */
  finished: Cursor;
  /** the next request: past the last event handed to the listeners, a lost
   * range or a cursor reset included */
  next: Cursor;
}

export class Client extends EventEmitter {
  constructor(clientId: string, options: ClientOptions);
  readonly clientId: string;

  on(event: 'error', listener: (error: RequestError | SignalError, channel: string) => void): this;
  on(event: 'cycle', listener: (cycle: Cycle, channel: string) => void): this;
  on(event: 'drain', listener: () => void): this;
  on(event: 'newListener' | 'removeListener', listener: (name: string | symbol, listener: (...args: any[]) => void) => void): this;
  on(channel: string, listener: (event: GanomedeEvent, channel: string) => void): this;

  once(event: 'error', listener: (error: RequestError | SignalError, channel: string) => void): this;
  once(event: 'cycle', listener: (cycle: Cycle, channel: string) => void): this;
  once(event: 'drain', listener: () => void): this;
  once(channel: string, listener: (event: GanomedeEvent, channel: string) => void): this;

  addListener(channel: string, listener: (...args: any[]) => void): this;
  prependListener(channel: string, listener: (...args: any[]) => void): this;
  prependOnceListener(channel: string, listener: (...args: any[]) => void): this;
  removeListener(channel: string, listener: (...args: any[]) => void): this;
  off(channel: string, listener: (...args: any[]) => void): this;
  removeAllListeners(channel?: string): this;

  /** Publish; the callback gets the stored event's header ({id, timestamp, ...}). */
  send(channel: string, event: EventToSend, callback?: Callback<GanomedeEvent>): void;
  /** The last `limit` (default 100; a positive integer, else a TypeError) events of channel, oldest first. */
  getLatestEvents(channel: string, limit: number, callback: Callback<GanomedeEvent[]>): void;
  getLatestEvents(channel: string, callback: Callback<GanomedeEvent[]>): void;
  /** Stop polling every channel now (long-polls in flight are aborted; sends in flight
   * complete) and close every connection of the client once no send is in flight. */
  close(): void;
}

export interface IndexerClientOptions extends ConnectionOptions {
  /** default '/events/v1' */
  pathnamePrefix?: string;
}

export interface IndexEvents {
  id: string;
  field: string;
  value: string;
  /** newest first */
  rows: GanomedeEvent[];
}

export class IndexerClient {
  constructor(options: IndexerClientOptions);
  /** 'OK' when created, null when it already existed */
  createIndex(id: string, channel: string, field: string, callback?: Callback<'OK' | null>): void;
  getIndexEvents(indexId: string, value: string, callback: Callback<IndexEvents>): void;
  /** the 1.5 client's name of getIndexEvents */
  getIndiceEvents(indexId: string, value: string, callback: Callback<IndexEvents>): void;
}
