// How the UI talks to the bank: queries and mutations as HTTP POST to /api, subscriptions over one
// graphql-ws client (sub-protocol graphql-transport-ws) on /ws. Both URLs are relative to the page,
// so the UI works on whatever host and port serves it. The client reconnects forever with a capped
// backoff; graphql-ws re-subscribes active subscriptions itself, and `onReconnect` lets views re-query
// what they may have missed while the socket was down.
import { createClient, type Client } from 'graphql-ws/client';

/** Connection states shown by the banner. */
export type ConnectionState = 'connecting' | 'connected' | 'lost' | 'restored';

type Listener<T> = (value: T) => void;

function endpoint(path: string, ws: boolean): string {
  const url = new URL(path, window.location.href);
  if (ws) url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** A GraphQL error the server reported, or a transport failure; `message` is fit for the user. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly transport: boolean,
  ) {
    super(message);
  }
}

let connection: ConnectionState = 'connecting';
let everConnected = false;
let restoredTimer: ReturnType<typeof setTimeout> | undefined;
const stateListeners = new Set<Listener<ConnectionState>>();
const reconnectListeners = new Set<() => void>();

function setState(s: ConnectionState): void {
  connection = s;
  for (const l of stateListeners) l(s);
}

/** The current connection state. */
export function connectionState(): ConnectionState {
  return connection;
}

/**
 * Calls `l` with the state now, then on every change; returns the unsubscribe function. A view
 * subscribes in an effect, after its first render: without the call now, a change in between (the
 * socket connecting while a slow machine rendered) was never heard, and the view stayed offline.
 */
export function onConnectionState(l: Listener<ConnectionState>): () => void {
  stateListeners.add(l);
  l(connection);
  return () => stateListeners.delete(l);
}

/** Calls `l` each time the socket is connected again after a loss; returns the unsubscribe function. */
export function onReconnect(l: () => void): () => void {
  reconnectListeners.add(l);
  return () => reconnectListeners.delete(l);
}

let client: Client | null = null;
let socket: WebSocket | null = null;
let pongTimer: ReturnType<typeof setTimeout> | undefined;
/** Set while the socket is closed on purpose to connect again with a new employee key. */
let restarting = false;

// The employee key of the bank's private mode (`bank run --private`): kept in sessionStorage (a
// reload keeps it, closing the tab forgets it), never in the address. When set it goes with every
// request as `Authorization: Bearer KEY`, and as `authorization` in the WebSocket's connection_init.
const EMPLOYEE_KEY = 'bank.employeeKey';
const keyListeners = new Set<Listener<string | null>>();

function loadEmployeeKey(): string | null {
  try {
    return window.sessionStorage.getItem(EMPLOYEE_KEY) || null;
  } catch {
    return null; // storage disabled: no key until one is entered
  }
}

let employeeKey: string | null = loadEmployeeKey();

/** The employee key in use in this tab, or null. */
export function getEmployeeKey(): string | null {
  return employeeKey;
}

/** Calls `l` with the employee key now, then whenever it changes (as onConnectionState); returns
 * the unsubscribe function. */
export function onEmployeeKey(l: Listener<string | null>): () => void {
  keyListeners.add(l);
  l(employeeKey);
  return () => keyListeners.delete(l);
}

/**
 * Uses `key` (null: none) from now on: for HTTP at once, and for the WebSocket by connecting again
 * with it in connection_init (the views then ask again, as after any reconnect).
 */
export function setEmployeeKey(key: string | null): void {
  const k = key?.trim() || null;
  if (k === employeeKey) return;
  employeeKey = k;
  try {
    if (k) window.sessionStorage.setItem(EMPLOYEE_KEY, k);
    else window.sessionStorage.removeItem(EMPLOYEE_KEY);
  } catch {
    // Storage disabled: the key lasts until the page is reloaded.
  }
  for (const l of keyListeners) l(k);
  if (client && connection !== 'lost' && connection !== 'connecting') {
    restarting = true;
    client.terminate();
  }
}

function authorization(): Record<string, string> {
  return employeeKey ? { Authorization: `Bearer ${employeeKey}` } : {};
}

/** The single graphql-ws client of the page, created (and connected) on first use. */
function wsClient(): Client {
  if (client) return client;
  client = createClient({
    url: endpoint('/ws', true),
    lazy: false,
    connectionParams: () => (employeeKey ? { authorization: `Bearer ${employeeKey}` } : {}),
    retryAttempts: Infinity,
    shouldRetry: () => true,
    // Randomised exponential backoff: 0.5 s, 1 s, 2 s, 4 s, then every 5 s at most.
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(5000, 500 * 2 ** retries) * (0.75 + Math.random() / 2))),
    // A ping every 10 s; no pong within 5 s means a dead link (a sleeping laptop, a dropped
    // network), so the socket is closed and the client reconnects.
    keepAlive: 10_000,
    on: {
      opened: (s) => {
        socket = s as WebSocket;
      },
      ping: (received) => {
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (socket?.readyState === WebSocket.OPEN) socket.close(4408, 'Request Timeout');
        }, 5000);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
      connected: () => {
        clearTimeout(restoredTimer);
        if (restarting) {
          // Connected again with a new employee key: no banner, but the views ask again.
          restarting = false;
          setState('connected');
          for (const l of reconnectListeners) l();
        } else if (everConnected && connection === 'lost') {
          setState('restored');
          restoredTimer = setTimeout(() => setState('connected'), 4000);
          for (const l of reconnectListeners) l();
        } else {
          setState('connected');
        }
        everConnected = true;
      },
      closed: () => {
        clearTimeout(restoredTimer);
        clearTimeout(pongTimer);
        if (!restarting) setState('lost');
      },
    },
  });
  return client;
}

/** Opens the WebSocket right away so the banner reflects the server's reachability. */
export function connect(): void {
  wsClient();
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string }[];
}

/**
 * Runs a query or mutation with HTTP POST /api. Resolves with `data`; rejects with an ApiError
 * whose `transport` flag tells a network or HTTP failure (the request may or may not have run)
 * from a GraphQL error (it did not).
 */
export async function request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(endpoint('/api', false), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json', ...authorization() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('Could not reach the server', true);
  }
  let body: GraphQLResponse<T>;
  try {
    body = (await res.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`The server answered ${res.status} ${res.statusText} without a GraphQL result`, true);
  }
  if (body.errors && body.errors.length > 0) {
    throw new ApiError(body.errors.map((e) => e.message).join('; '), false);
  }
  if (body.data === undefined || body.data === null) throw new ApiError(`The server answered ${res.status} without data`, true);
  return body.data;
}

/**
 * Starts a live subscription and calls `onData` with each result's `data`. It survives socket
 * losses (graphql-ws re-subscribes after reconnecting) and, should the server end or reject it,
 * it subscribes again after a pause. Returns the function that stops it for good.
 */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError?: (message: string) => void,
): () => void {
  let stopped = false;
  let dispose: (() => void) | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const start = (): void => {
    if (stopped) return;
    dispose = wsClient().subscribe<T>(
      { query, variables },
      {
        next: (r) => {
          if (r.errors && r.errors.length > 0) onError?.(r.errors.map((e) => e.message).join('; '));
          if (r.data) onData(r.data as T);
        },
        error: (e) => {
          if (Array.isArray(e)) onError?.(e.map((x: { message: string }) => x.message).join('; '));
          if (!stopped) retry = setTimeout(start, 3000);
        },
        complete: () => {
          if (!stopped) retry = setTimeout(start, 3000);
        },
      },
    );
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(retry);
    dispose?.();
  };
}
