// Every GraphQL operation the UI sends. 1-6 are the seed's operations (spec 7.8), with the same
// variables; the rest are beyond the seed (filters, balance, transfer status, live account list).
import { filterArguments, type Filters } from './filters';

/** The six optional transaction fields and their toggle labels (spec 7.3), in display order. */
export const FIELDS = [
  { key: 'iban', label: 'own account' },
  { key: 'new_balance', label: 'new balance' },
  { key: 'direction', label: 'debit/credit' },
  { key: 'from_to', label: 'other account' },
  { key: 'changed_by', label: 'amount changed' },
  { key: 'descr', label: 'description' },
] as const;

export type FieldKey = (typeof FIELDS)[number]['key'];
export type ShowFields = Record<FieldKey, boolean>;

/** A transaction as returned by the API; fields left out of the selection are absent. */
export interface Transaction {
  id: number;
  iban?: string | null;
  new_balance?: string | null;
  changed_by?: string | null;
  from_to?: string | null;
  descr?: string | null;
  direction?: 'DEBIT' | 'CREDIT' | null;
  /** When the money moved, ISO-8601 UTC; null from a server that does not fill it. */
  at?: string | null;
  /** The uuid of the transfer this transaction belongs to; null when there is none or it is not filled. */
  transfer?: string | null;
}

// `id`, `at` and `transfer` are always asked for: the id keys the list, the time and the transfer
// link are part of every box.
const SELECTION = FIELDS.map((f) => (f.key === 'direction' ? `direction @include(if: $show_direction) id` : `${f.key} @include(if: $show_${f.key})`)).join(' ') + ' at transfer';

const SHOW_VARS = FIELDS.map((f) => `$show_${f.key}: Boolean!`).join(', ');

const FILTER_TYPES: Record<string, string> = { direction: 'dtype', min_amount: 'Int', max_amount: 'Int', descr_includes: 'String' };

/** The declarations and arguments of the filters that are set. */
function filterParts(filters: Filters): { decl: string[]; use: string[] } {
  const decl: string[] = [];
  const use: string[] = [];
  for (const k of Object.keys(filterArguments(filters))) {
    decl.push(`$${k}: ${FILTER_TYPES[k]}`);
    use.push(`${k}: $${k}`);
  }
  return { decl, use };
}

/** 1. Entering the employee view. */
export const ALL_LAST_TRANSACTIONS = `query { all_last_transactions { iban } }`;

/**
 * 2. The newest `max_items` transactions of one IBAN with the selected fields; with filters, the
 * newest `max_items` of those that match (the server filters, so the list is full when it can be).
 */
export function listQuery(filters: Filters, at = false, token = false): string {
  const { decl, use } = filterParts(filters);
  if (at) {
    decl.push('$at: String');
    use.push('at: $at');
  }
  if (token) {
    decl.push('$token: String');
    use.push('token: $token');
  }
  return `query (${['$max_items: Int!', '$iban: String!', ...decl].join(', ')}, ${SHOW_VARS}) { transactions_by_iban(${['iban: $iban', 'max_items: $max_items', ...use].join(', ')}) { ${SELECTION} } }`;
}

/**
 * 3. The live transactions of one IBAN with the selected fields. Without filters this is the
 * seed's operation (plus `at transfer`); the filters that are set are added as arguments.
 */
export function streamQuery(filters: Filters, token = false): string {
  const { decl, use } = filterParts(filters);
  if (token) {
    decl.push('$token: String');
    use.push('token: $token');
  }
  return `subscription (${['$iban: String!', ...decl].join(', ')}, ${SHOW_VARS}) { stream_transactions(${['iban: $iban', ...use].join(', ')}) { ${SELECTION} } }`;
}

/** 4. Log in, creating the user and an account when the username is new. */
export const GET_ACCOUNT = `mutation ($username: String!, $password: String!) { get_account(username: $username, password: $password) { reason iban token created } }`;

/**
 * 5. A cash deposit to the logged-in account. Unlike the seed (token "cash"), it carries the
 * account's token: this bank checks the depositor of a cash transfer (spec 9.2 F7, docs/domain.md).
 */
export const DEPOSIT = `mutation ($amount: Int!, $uuid: String!, $username: String!, $iban: String!, $token: String!) { money_transfer(amount: $amount, username: $username, descr: "deposit by re-graph", from: "cash", token: $token, to: $iban, uuid: $uuid) { reason success uuid } }`;

/** 6. A transfer from the logged-in account. */
export const TRANSFER = `mutation ($amount: Int!, $uuid: String!, $username: String!, $to: String!, $token: String!, $from: String!, $descr: String!) { money_transfer(amount: $amount, uuid: $uuid, username: $username, to: $to, token: $token, from: $from, descr: $descr) { reason success uuid } }`;

/**
 * The state of a transfer whose mutation timed out or never got an answer (beyond the seed); the
 * token of the user's account opens it in private mode (the public default does not look at it).
 */
export const TRANSFER_STATUS = `query ($uuid: String!, $token: String) { transfer(uuid: $uuid, token: $token) { state reason } }`;

/** A transfer looked up by uuid for its own page (beyond the seed). */
export const TRANSFER_DETAILS = `query ($uuid: String!, $token: String) { transfer(uuid: $uuid, token: $token) { uuid state reason amount from to descr } }`;

/** The balance of the logged-in account, now or as it was at `$at` (beyond the seed). */
export const ACCOUNT_BALANCE = `query ($iban: String!, $token: String!, $at: String) { account(iban: $iban, token: $token, at: $at) { balance } }`;

/** Every account of a user with the user's token of each, asked at login (issue 15). */
export const ACCOUNTS = `query ($username: String!, $password: String!) { accounts(username: $username, password: $password) { iban token reason } }`;

/** Another account for the logged-in user (issue 15). */
export const OPEN_ACCOUNT = `mutation ($username: String!, $password: String!) { open_account(username: $username, password: $password) { iban token reason } }`;

/** The owners of an account (issue 15). */
export const ACCOUNT_OWNERS = `query ($iban: String!, $token: String!) { account(iban: $iban, token: $token) { owners } }`;

/** Makes a user an owner of the account too (issue 15). */
export const ADD_OWNER = `mutation ($iban: String!, $token: String!, $username: String!) { add_owner(iban: $iban, token: $token, username: $username) { success reason } }`;

/** Takes a user off the owners of the account (issue 15). */
export const REMOVE_OWNER = `mutation ($iban: String!, $token: String!, $username: String!) { remove_owner(iban: $iban, token: $token, username: $username) { success reason } }`;

const EVENT = 'order type at transfer summary data';

/** One page of an account's events, newest first (issue 15). */
export const ACCOUNT_HISTORY = `query ($iban: String!, $token: String!, $max_items: Int, $before_order: Int) { account_history(iban: $iban, token: $token, max_items: $max_items, before_order: $before_order) { ${EVENT} } }`;

/** A transfer's events, oldest first (issue 15). */
export const TRANSFER_HISTORY = `query ($uuid: String!, $token: String!) { transfer_history(uuid: $uuid, token: $token) { ${EVENT} } }`;

const RULE = 'kind amount_cents iban word';
const ALERT = 'id kind message transaction { id iban changed_by direction descr at transfer }';

/** The alert rules of an account (issue 15). */
export const ALERT_RULES = `query ($iban: String!, $token: String!) { alerts(iban: $iban, token: $token) { ${RULE} } }`;

/** Replaces the alert rules of an account (issue 15). */
export const SET_ALERTS = `mutation ($iban: String!, $token: String!, $rules: [AlertRuleInput!]!) { set_alerts(iban: $iban, token: $token, rules: $rules) { ${RULE} } }`;

/** The alerts triggered after `after_id`, oldest first (issue 15). */
export const ALERTS_SINCE = `query ($iban: String!, $token: String!, $after_id: Int!) { alerts_since(iban: $iban, token: $token, after_id: $after_id) { ${ALERT} } }`;

/** The alerts of an account as they trigger (issue 15). */
export const STREAM_ALERTS = `subscription ($iban: String!, $token: String!) { stream_alerts(iban: $iban, token: $token) { ${ALERT} } }`;

/** The balance after each new transaction of one account (beyond the seed). */
export const STREAM_BALANCE = `subscription ($iban: String!, $token: String) { stream_transactions(iban: $iban, token: $token) { id iban new_balance } }`;

/** Every new transaction's IBAN, so the employee's account list grows live (beyond the seed). */
export const STREAM_ALL_IBANS = `subscription { stream_transactions { id iban } }`;

/** The `$show_*` variables for a field selection. */
export function showVariables(show: ShowFields): Record<string, boolean> {
  const vars: Record<string, boolean> = {};
  for (const f of FIELDS) vars[`show_${f.key}`] = show[f.key];
  return vars;
}

export interface MoneyTransferResult {
  uuid: string | null;
  success: boolean | null;
  reason: string | null;
}

export interface AccountResult {
  iban: string | null;
  token: string | null;
  reason: string | null;
  /** True when this login created the user and the account; null from a server that does not fill it. */
  created?: boolean | null;
}

export interface TransferDetails {
  uuid: string;
  state: TransferState;
  reason: string | null;
  amount: string | null;
  from: string | null;
  to: string | null;
  descr: string | null;
}

export type TransferState = 'STARTED' | 'COMPLETED' | 'FAILED';

/** One stored event of an account or a transfer (issue 15). */
export interface AccountEvent {
  order: number;
  /** The Avro record name, e.g. MoneyDebitedEvent. */
  type: string;
  at: string;
  transfer: string | null;
  summary: string;
  /** The stored record as JSON text. */
  data: string;
}

export type AlertKind = 'DEBIT_ABOVE' | 'BALANCE_BELOW' | 'CREDIT_FROM' | 'DESCRIPTION_CONTAINS';

/** An alert rule as the API has it: the field its kind needs is set. */
export interface AlertRule {
  kind: AlertKind;
  amount_cents?: number | null;
  iban?: string | null;
  word?: string | null;
}

/** A triggered alert with the transaction that triggered it. */
export interface Alert {
  id: number;
  kind: AlertKind;
  message: string;
  transaction: Transaction;
}

export interface ChangeResult {
  success: boolean;
  reason: string | null;
}
